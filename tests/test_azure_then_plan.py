"""Issue #5's "done when" for Azure: `optimizer collect all` against the HTTPS fake (spend,
VMs, CPU, storage accounts, Retail Prices) fills a fresh store, and `optimizer plan` runs
on what it brought in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from store.engine import make_engine
from tests.azure_fake import FakeAzure, azure_ca, azure_fixture, hourly  # noqa: F401
from tests.conftest import run_cli
from tests.test_azure_estate import SUB, seed


def test_plan_runs_on_what_azure_brought_in(azure: FakeAzure, tmp_path: Path) -> None:
    ids = seed(azure)
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    cpu = hourly(midnight - timedelta(days=2), [5.0 + h % 10 for h in range(48)])
    for name in ("web", "pool", "batch"):  # CPU of the real last two days (the CLI's today)
        azure.series[(ids[name].lower(), "Percentage CPU")] = [({}, cpu)]
    blob = [k for k in azure.series if k[1] in ("BlobCapacity", "BlobCount")]
    for key in blob:  # capacity of yesterday
        for _dims, points in azure.series[key]:
            for p in points:
                p["timeStamp"] = f"{midnight - timedelta(hours=2):%Y-%m-%dT%H:%M:%SZ}"
    yesterday = int((midnight - timedelta(days=1)).strftime("%Y%m%d"))
    for kind in ("ActualCost", "AmortizedCost"):
        azure.set_rows(kind, [[12.5, yesterday, "Virtual Machines", "Usage", "USD"]])
    config = tmp_path / "optimizer.toml"
    config.write_text(
        f'[[sources]]\ntype = "azure"\nname = "corp"\nscope = "/subscriptions/{SUB}"\n'
        f'endpoint_url = "{azure.url}"\nca_bundle = "{azure.ca_path}"\n'
        f'retail_prices_url = "{azure.url}/api/retail/prices"\nfirst_days = 3\n'
        "max_attempts = 2\n"
    )
    db = str(tmp_path / "store.db")
    assert run_cli("--db", db, "init").returncode == 0
    done = run_cli("--db", db, "--config", str(config), "--json", "collect", "all")
    assert done.returncode == 0, done.stdout + done.stderr
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()
                  for t in ("cost_record", "workload", "usage_sample", "storage_group",
                            "price_offer where source = 'azure-retail-prices'")}  # fmt: skip
    assert counts == {"cost_record": 1, "workload": 3, "usage_sample": 144,
                      "storage_group": 4,
                      "price_offer where source = 'azure-retail-prices'": 4}  # fmt: skip
    policies = tmp_path / "policies.yaml"
    policies.write_text("version: 1\npolicies: []\n")
    done = run_cli(
        "--db", db, "--config", str(config), "--json", "plan", "--policies", str(policies)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(done.stdout)
    assert f"azure:{SUB}/rg-web/web-1" in json.dumps(plan)
