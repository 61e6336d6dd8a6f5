"""Live AWS: the collector against a real account, opt-in (`OPTIMIZER_LIVE_AWS=1`).

Credentials come from boto3's own chain (environment, profile, SSO, instance role).
Variables (see docs/collectors-aws.md):
- OPTIMIZER_LIVE_AWS=1                 run this file (otherwise every test skips);
- OPTIMIZER_LIVE_AWS_REGIONS=a,b       regions to read (default us-east-1);
- OPTIMIZER_LIVE_AWS_PROFILE=name      a named profile (optional);
- OPTIMIZER_LIVE_AWS_ROLE_ARN=arn      a role to assume on top (optional);
- OPTIMIZER_LIVE_AWS_EXPORT=bucket/prefix[:cur2|focus]  read spend from a Data Exports
  export instead of Cost Explorer (optional; Cost Explorer costs $0.01 a request);
- OPTIMIZER_LIVE_AWS_COST_EXPLORER=0   skip Cost Explorer entirely (no spend read).
Everything goes into a temporary SQLite store; nothing in the account is changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from collectors.aws.collector import AwsCollector, totals
from collectors.aws.settings import AwsSource
from tests.live import ACCEPTED, check_and_collect

pytestmark = pytest.mark.skipif(
    os.environ.get("OPTIMIZER_LIVE_AWS") != "1",
    reason="live AWS suite: set OPTIMIZER_LIVE_AWS=1 (and credentials) to run it",
)


def live_source() -> AwsSource:
    env = os.environ
    spec: dict[str, Any] = {
        "type": "aws",
        "name": "live-aws",
        "regions": [r.strip() for r in env.get("OPTIMIZER_LIVE_AWS_REGIONS", "us-east-1").split(",")
                    if r.strip()],
        "profile": env.get("OPTIMIZER_LIVE_AWS_PROFILE") or None,
        "role_arn": env.get("OPTIMIZER_LIVE_AWS_ROLE_ARN") or None,
        "first_days": 3,
        "cost_explorer": env.get("OPTIMIZER_LIVE_AWS_COST_EXPLORER", "1") != "0",
    }  # fmt: skip
    export = env.get("OPTIMIZER_LIVE_AWS_EXPORT")
    if export:
        where, _, fmt = export.partition(":")
        bucket, _, prefix = where.partition("/")
        spec["data_export"] = {"bucket": bucket, "prefix": prefix, "format": fmt or "cur2"}
    return AwsSource(**spec)


def test_live_check_and_collect(tmp_path: Path) -> None:
    source = live_source()
    collector = AwsCollector(source)
    engine, first, today = check_and_collect(collector, tmp_path)
    assert first.api_calls.get("sts:GetCallerIdentity") == 1
    if source.data_export is not None:
        assert "ce:GetCostAndUsage" not in first.api_calls
    rows, _billed = totals(engine, source.source_key)
    assert rows == first.rows.get("cost_records", 0)
    again = collector.collect(engine, today)  # idempotent: same rows, nothing doubled
    assert again.status in ACCEPTED, again.as_dict()
    if source.data_export is not None:  # unchanged manifests: skipped, store as it was
        assert again.api_calls.get("s3:GetObject", 0) == 0
        assert totals(engine, source.source_key)[0] == rows
