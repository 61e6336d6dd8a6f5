"""Live Azure: the collector against a real scope, opt-in (`OPTIMIZER_LIVE_AZURE=1`).

Credentials come from azure-identity's DefaultAzureCredential (environment variables,
managed identity, `az login`); OPTIMIZER_AZURE_TEST_TOKEN is removed for the run so
it can never stand in for them. Variables (see docs/collectors-azure.md):
- OPTIMIZER_LIVE_AZURE=1                     run this file (otherwise every test skips);
- OPTIMIZER_LIVE_AZURE_SCOPE=/subscriptions/<id>  the Cost Management scope (required);
- OPTIMIZER_LIVE_AZURE_SUBSCRIPTIONS=a,b     subscriptions whose inventory is read (needed
  for a management-group or billing scope; default: the scope's subscription);
- OPTIMIZER_LIVE_AZURE_REGIONS=a,b           extra regions whose VM prices are read;
- OPTIMIZER_LIVE_AZURE_KINDS=spend,inventory,metrics,storage,prices  what to read
  (default all);
- OPTIMIZER_LIVE_AZURE_COST_COLUMN=PreTaxCost  for older scopes that refuse "Cost".
Everything goes into a temporary SQLite store; nothing in Azure is changed (read-only
calls: Cost Management query, ARM lists and gets, Monitor metrics, public Retail Prices).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from collectors.azure.collector import AzureCollector, totals
from collectors.azure.settings import AzureSource
from tests.live import ACCEPTED, check_and_collect

pytestmark = pytest.mark.skipif(
    os.environ.get("OPTIMIZER_LIVE_AZURE") != "1",
    reason="live Azure suite: set OPTIMIZER_LIVE_AZURE=1, OPTIMIZER_LIVE_AZURE_SCOPE and "
    "credentials (az login) to run it",
)
KINDS = ("spend", "inventory", "metrics", "storage", "prices")


def _list(name: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]


def live_source() -> AzureSource:
    scope = os.environ.get("OPTIMIZER_LIVE_AZURE_SCOPE")
    if not scope:
        pytest.fail("set OPTIMIZER_LIVE_AZURE_SCOPE (e.g. /subscriptions/<id>)", pytrace=False)
    kinds = _list("OPTIMIZER_LIVE_AZURE_KINDS") or list(KINDS)
    spec: dict[str, Any] = {
        "type": "azure", "name": "live-azure", "scope": scope, "first_days": 3,
        "subscriptions": _list("OPTIMIZER_LIVE_AZURE_SUBSCRIPTIONS"),
        "regions": _list("OPTIMIZER_LIVE_AZURE_REGIONS"),
        "cost_column": os.environ.get("OPTIMIZER_LIVE_AZURE_COST_COLUMN", "Cost"),
        **{kind: kind in kinds for kind in KINDS},
    }  # fmt: skip
    return AzureSource(**spec)


def test_live_check_and_collect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTIMIZER_AZURE_TEST_TOKEN", raising=False)
    source = live_source()
    collector = AzureCollector(source)
    engine, first, today = check_and_collect(collector, tmp_path)
    if source.spend:
        assert first.api_calls.get("query.usage ActualCost", 0) >= 1
    rows, _billed, _effective = totals(engine, source.source_key)
    assert rows == first.rows.get("cost_records", 0)
    again = collector.collect(engine, today)  # idempotent: same rows, nothing doubled
    assert again.status in ACCEPTED, again.as_dict()
    assert totals(engine, source.source_key)[0] == again.rows.get("cost_records", 0)
    for kind in ("workloads", "storage_groups", "price_offers"):
        assert again.rows.get(kind) == first.rows.get(kind), (kind, first.rows, again.rows)
