"""Issue #5's "done when": `optimizer collect all` against every cloud's local fake at once
(moto's server and a Price List fake for AWS, the HTTPS fake for Azure, the REST + gRPC
fakes and gcp-storage-emulator for GCP) fills a fresh store, and `optimizer plan` runs on
what they brought in: the reference facts come from the collect stage, each cloud's
workloads are priced by the live offers its collector wrote, and nothing of the demo is
involved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from store.engine import make_engine
from tests.aws_fake import FakeAws, aws_fixture, moto_server  # noqa: F401
from tests.aws_pricing_fake import FakePricing, product
from tests.azure_fake import FakeAzure, azure_ca, azure_fixture, hourly  # noqa: F401
from tests.conftest import run_cli
from tests.gcp_data import ACCOUNT, PROJECT, TABLE, bq_row, cpu_series, instance, machine_type
from tests.gcp_fake import FakeGcp, gcp_fixture  # noqa: F401
from tests.gcp_storage import gcs_fixture  # noqa: F401
from tests.test_aws_collector import seed_estate
from tests.test_azure_estate import SUB
from tests.test_azure_estate import seed as seed_azure
from tests.test_gcp_prices import catalog

MIDNIGHT = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def aws_source(aws: FakeAws, pricing: FakePricing) -> str:
    ids = seed_estate(aws)
    aws.client("cloudwatch").put_metric_data(  # two whole days: collectors read whole days
        Namespace="AWS/EC2",
        MetricData=[
            {"MetricName": "CPUUtilization", "Unit": "Percent", "Value": 5.0 + h % 10,
             "Dimensions": [{"Name": "InstanceId", "Value": ids[0]}],
             "Timestamp": MIDNIGHT - timedelta(hours=h)}
            for h in range(1, 49)
        ],
    )  # fmt: skip
    return (
        f'[[sources]]\ntype = "aws"\nname = "aws-prod"\nendpoint_url = "{aws.url}"\n'
        f'pricing_endpoint_url = "{pricing.url}"\nfirst_days = 3\nmax_attempts = 2\n'
        "cost_explorer = false\n"
    )


def azure_source(azure: FakeAzure) -> str:
    ids = seed_azure(azure)
    cpu = hourly(MIDNIGHT - timedelta(days=2), [5.0 + h % 10 for h in range(48)])
    for name in ("web", "pool", "batch"):
        azure.series[(ids[name].lower(), "Percentage CPU")] = [({}, cpu)]
    yesterday = int((MIDNIGHT - timedelta(days=1)).strftime("%Y%m%d"))
    for kind in ("ActualCost", "AmortizedCost"):
        azure.set_rows(kind, [[12.5, yesterday, "Virtual Machines", "Usage", "USD"]])
    return (
        f'[[sources]]\ntype = "azure"\nname = "azure-corp"\nscope = "/subscriptions/{SUB}"\n'
        f'endpoint_url = "{azure.url}"\nca_bundle = "{azure.ca_path}"\n'
        f'retail_prices_url = "{azure.url}/api/retail/prices"\nfirst_days = 3\n'
        "max_attempts = 2\n"
    )


def gcp_source(gcp: FakeGcp, gcs: str) -> str:
    gcp.skus = catalog()
    gcp.machine_types = {"us-central1-a": [machine_type("n2-standard-4", 4, 16384)]}
    gcp.instances = {PROJECT: {"us-central1-a": [instance(101, "web-1", "n2-standard-4")]}}
    gcp.series = [cpu_series(101, MIDNIGHT - timedelta(days=2), 48, 0.25)]
    yesterday = (MIDNIGHT - timedelta(days=1)).date()
    gcp.bq_rows = [bq_row(yesterday, "Compute Engine", "9.75")]
    endpoints = ", ".join(f'{k} = "{v}"' for k, v in gcp.endpoints(gcs).items())
    return (
        f'[[sources]]\ntype = "gcp"\nname = "gcp-shop"\nbilling_account = "{ACCOUNT}"\n'
        f'projects = ["{PROJECT}"]\nregions = ["us-central1"]\nbigquery_table = "{TABLE}"\n'
        f"first_days = 3\nmax_attempts = 2\nretry_seconds = 0\nendpoints = {{ {endpoints} }}\n"
    )


def test_plan_runs_on_what_every_collector_brought_in(
    aws: FakeAws, azure: FakeAzure, gcp: FakeGcp, gcs: str, tmp_path: Path
) -> None:
    pricing = FakePricing([product("m5.large", "us-east-1", "0.0960000000"),
                           product("c5.xlarge", "us-east-1", "0.1700000000", vcpu=4)])  # fmt: skip
    try:
        config = tmp_path / "optimizer.toml"
        config.write_text(
            "\n".join((aws_source(aws, pricing), azure_source(azure), gcp_source(gcp, gcs)))
        )
        db = str(tmp_path / "store.db")
        assert run_cli("--db", db, "init").returncode == 0
        done = run_cli("--db", db, "--config", str(config), "--json", "collect", "all")
    finally:
        pricing.close()
    assert done.returncode == 0, done.stdout + done.stderr
    collected = json.loads(done.stdout)
    assert collected["failures"] == [] and collected["reference_loaded"]["region"] > 40
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:

        def pairs(sql: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in conn.execute(sa.text(sql)).all()}

        by_cloud = pairs("select provider, count(*) from workload group by provider")
        live = pairs(
            "select provider, count(*) from price_offer where valid_to is null and source in "
            "('aws-price-list', 'aws-spot', 'azure-retail-prices', 'gcp-catalog') group by provider"
        )
        spend = pairs("select provider_name, count(*) from cost_record group by provider_name")
        cpu = conn.execute(
            sa.text("select count(distinct series_id) from usage_sample where metric = 'cpu_pct'")
        ).scalar_one()
    assert set(by_cloud) == {"aws", "azure", "gcp"}, by_cloud
    assert set(live) >= {"aws", "azure", "gcp"}, live  # each collector priced its cloud
    assert len(spend) == 2, spend  # Azure and GCP spend (AWS: Cost Explorer off here)
    assert cpu >= 5
    policies = tmp_path / "policies.yaml"
    policies.write_text("version: 1\npolicies: []\n")
    done = run_cli(
        "--db", db, "--config", str(config), "--json", "plan", "--policies", str(policies)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    plan = json.loads(done.stdout)
    assert plan["unplaced"] == [] and plan["gap"] < 0.01
    text = json.dumps(plan["recommendations"])
    # Today's placement is priced from the live offers: no "unknown to the price list".
    assert "unknown to the price list" not in text
    with engine.connect() as conn:
        details = conn.execute(sa.text("select details from plan")).scalar_one()
    assert details, "the plan records what it solved"
