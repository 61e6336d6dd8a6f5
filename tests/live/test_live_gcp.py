"""Live GCP: the collector against a real billing account, opt-in (`OPTIMIZER_LIVE_GCP=1`).

Credentials are application default credentials, as in production
(`gcloud auth application-default login` or GOOGLE_APPLICATION_CREDENTIALS).
Variables (see docs/collectors-gcp.md):
- OPTIMIZER_LIVE_GCP=1                        run this file (otherwise every test skips);
- OPTIMIZER_LIVE_GCP_BILLING_ACCOUNT=XXXXXX-XXXXXX-XXXXXX  the billing account (required);
- OPTIMIZER_LIVE_GCP_PROJECT=a,b              projects whose instances, CPU and buckets are
  read (required unless only spend is read);
- OPTIMIZER_LIVE_GCP_BQ_TABLE=p.dataset.table the billing export table (optional: without
  it spend is not read);
- OPTIMIZER_LIVE_GCP_BQ_KIND=standard|detailed|focus  (default standard);
- OPTIMIZER_LIVE_GCP_BQ_LOCATION=US            the export dataset's location (optional);
- OPTIMIZER_LIVE_GCP_REGIONS=a,b               regions for prices and instances (optional).
Everything goes into a temporary SQLite store; nothing in the account is changed. The
export query scans the window's partitions of the table (BigQuery bills bytes scanned).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from collectors.gcp.collector import GcpCollector
from collectors.gcp.settings import GcpSource
from store import costs
from store.models import Workload
from tests.live import ACCEPTED, check_and_collect

pytestmark = pytest.mark.skipif(
    os.environ.get("OPTIMIZER_LIVE_GCP") != "1",
    reason="live GCP suite: set OPTIMIZER_LIVE_GCP=1 (and application default credentials)",
)


def _list(name: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, "").split(",") if x.strip()]


def live_source() -> GcpSource:
    env = os.environ
    if not env.get("OPTIMIZER_LIVE_GCP_BILLING_ACCOUNT"):
        pytest.fail("set OPTIMIZER_LIVE_GCP_BILLING_ACCOUNT (e.g. 012345-6789AB-CDEF01)")
    table = env.get("OPTIMIZER_LIVE_GCP_BQ_TABLE") or None
    projects = _list("OPTIMIZER_LIVE_GCP_PROJECT")
    spec: dict[str, Any] = {
        "type": "gcp", "name": "live-gcp",
        "billing_account": env["OPTIMIZER_LIVE_GCP_BILLING_ACCOUNT"],
        "projects": projects, "regions": _list("OPTIMIZER_LIVE_GCP_REGIONS"),
        "bigquery_table": table, "bigquery_kind": env.get("OPTIMIZER_LIVE_GCP_BQ_KIND",
                                                          "standard"),
        "bigquery_location": env.get("OPTIMIZER_LIVE_GCP_BQ_LOCATION") or None,
        "first_days": 3, "spend": table is not None,
        "prices": bool(projects), "inventory": bool(projects), "metrics": bool(projects),
        "storage": bool(projects),
    }  # fmt: skip
    return GcpSource(**spec)


def test_live_check_and_collect(tmp_path: Path) -> None:
    source = live_source()
    collector = GcpCollector(source)
    engine, first, today = check_and_collect(collector, tmp_path)
    with engine.connect() as conn:
        rows = costs.totals(conn, source.source_key).rows
        workloads = conn.execute(
            sa.select(sa.func.count()).select_from(Workload.__table__)  # type: ignore[attr-defined]
        ).scalar_one()
    assert rows == first.rows.get("cost_records", 0)
    assert workloads == first.rows.get("workloads", 0)
    if source.spend:
        assert first.api_calls.get("bigquery.jobs.query") == 1
    if source.prices:
        assert first.rows.get("price_offers", 0) > 0, "the public catalog always has prices"
    again = collector.collect(engine, today)  # idempotent: same rows, nothing doubled
    assert again.status in ACCEPTED, again.as_dict()
    with engine.connect() as conn:
        assert costs.totals(conn, source.source_key).rows == rows
