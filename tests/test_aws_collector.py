"""The AWS collector: real boto3 clients against moto's server (tests/aws_fake.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import botocore.exceptions as bx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.aws import mapping
from collectors.aws.adapter import AwsApi, AwsError, map_error
from collectors.aws.collector import AwsCollector, totals
from collectors.aws.settings import AwsSource
from optimizer.config import load_config
from store.models import SourceState, StorageGroup, UsageSample, Workload
from tests.aws_fake import FakeAws, ThrottlingCe, aws_fixture, free_port, moto_server  # noqa: F401

TODAY = datetime.now(UTC).date() + timedelta(days=1)  # window ends after the seeded metrics
GROUP_DEFS = [
    {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
    {"Type": "DIMENSION", "Key": "SERVICE"},
]


def group(account: str, service: str, billed: str, amortized: str | None = None) -> dict[str, Any]:
    return {
        "Keys": [account, service],
        "Metrics": {
            "UnblendedCost": {"Amount": billed, "Unit": "USD"},
            "AmortizedCost": {"Amount": amortized or billed, "Unit": "USD"},
            "UsageQuantity": {"Amount": "24", "Unit": "N/A"},
        },
    }


def page(days: dict[date, list[dict[str, Any]]], token: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "GroupDefinitions": GROUP_DEFS,
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
                "Total": {},
                "Groups": groups,
                "Estimated": False,
            }
            for d, groups in days.items()
        ],
        "DimensionValueAttributes": [],
    }
    if token:
        out["NextPageToken"] = token
    return out


def source(aws: FakeAws, **kw: Any) -> AwsSource:
    base: dict[str, Any] = {"type": "aws", "name": "prod", "endpoint_url": aws.url,
                            "first_days": 3, "max_attempts": 2, "prices": False}  # fmt: skip
    return AwsSource(**{**base, **kw})


def d(n: int) -> date:
    return TODAY - timedelta(days=n)


def seed_estate(aws: FakeAws) -> list[str]:
    ec2 = aws.client("ec2")
    ids = []
    for name, itype, market in (
        ("web", "m5.large", {}),
        ("batch", "c5.xlarge", {"MarketType": "spot"}),
    ):
        tags = [{"Key": "Name", "Value": name}, {"Key": "team", "Value": "a"}]
        r = ec2.run_instances(
            ImageId="ami-12c6146b",  # any id: describe_images would load moto's AMI catalogue (2 s)
            MinCount=1, MaxCount=1, InstanceType=itype, InstanceMarketOptions=market,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )  # fmt: skip
        ids.append(r["Instances"][0]["InstanceId"])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {"MetricName": "CPUUtilization",
             "Dimensions": [{"Name": "InstanceId", "Value": ids[0]}],
             "Timestamp": now - timedelta(hours=h), "Value": 10.0 + h, "Unit": "Percent"}
            for h in range(1, 5)
        ],
    )  # fmt: skip
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="logs-bucket")
    s3.put_object(Bucket="logs-bucket", Key="a", Body=b"x" * 100)
    s3.put_object(Bucket="logs-bucket", Key="b", Body=b"y" * 50, StorageClass="STANDARD_IA")
    rule = {"ID": "ia", "Status": "Enabled", "Filter": {"Prefix": ""},
            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]}  # fmt: skip
    s3.put_bucket_lifecycle_configuration(
        Bucket="logs-bucket", LifecycleConfiguration={"Rules": [rule]}
    )
    return ids


def test_collect_end_to_end(aws: FakeAws, sqlite_engine: Engine) -> None:
    ids = seed_estate(aws)
    aws.queue_ce(
        page({d(3): [group("111111111111", "Amazon EC2", "10.005", "9.50")],
              d(2): [group("111111111111", "Amazon EC2", "11.10")]}, token="p2"),
        page({d(2): [group("222222222222", "Amazon S3", "0.335")],
              d(1): [group("111111111111", "Amazon EC2", "12.00"),
                     group("222222222222", "Amazon S3", "0.34")]}),
    )  # fmt: skip
    s = AwsCollector(source(aws)).collect(sqlite_engine, TODAY)
    assert s.status == "ok", s
    assert s.window == (d(3), TODAY)
    assert s.rows == {"cost_records": 5, "usage_samples": 4, "workloads": 2, "storage_groups": 2,
                      "autoscaling_groups": 0}  # fmt: skip
    assert totals(sqlite_engine, "prod") == (5, Decimal("33.78"))
    assert s.api_calls == {
        "autoscaling:DescribeAutoScalingGroups": 1,
        "ce:GetCostAndUsage": 2,  # two pages followed
        "cloudwatch:GetMetricData": 1,
        "ec2:DescribeInstanceTypes": 1,
        "ec2:DescribeInstances": 1,
        "s3:GetBucketLocation": 1,
        "s3:GetLifecycleConfiguration": 1,
        "s3:ListAllMyBuckets": 1,
        "s3:ListBucket": 1,
        "sts:GetCallerIdentity": 1,
    }
    with sqlite_engine.connect() as conn:
        w = {r.series_id: r for r in conn.execute(sa.select(Workload.__table__))}
        assert set(w) == {f"aws:{i}" for i in ids}
        web = w[f"aws:{ids[0]}"]
        assert (web.instance_type, web.vcpu, web.memory_gib, web.region) == (
            "m5.large",
            2,
            8.0,
            "us-east-1",
        )
        assert web.name == f"aws:web:{ids[0]}" and web.tags["team"] == "a"
        assert web.purchase_option == "on_demand" and web.zone.startswith("us-east-1")
        batch = w[f"aws:{ids[1]}"]
        assert (batch.purchase_option, batch.vcpu, batch.memory_gib) == ("spot", 4, 8.0)
        samples = conn.execute(
            sa.select(UsageSample.__table__.c.metric, UsageSample.__table__.c.value)
        ).all()
        assert sorted(v for _, v in samples) == [11.0, 12.0, 13.0, 14.0]
        assert {m for m, _ in samples} == {"cpu_pct"}
        groups = {g.tier: g for g in conn.execute(sa.select(StorageGroup.__table__))}
        assert (groups["STANDARD"].bytes, groups["STANDARD_IA"].bytes) == (100, 50)
        assert groups["STANDARD"].lifecycle_rules[0]["ID"] == "ia"
        state = conn.execute(sa.select(SourceState.__table__)).one()
        assert state.last_status == "ok" and state.watermark.date() == TODAY
        effective = conn.execute(sa.text("select effective_cost, sub_account_id from cost_record "
                                         "where billed_cost = '10.005'")).one()  # fmt: skip
        assert (Decimal(str(effective[0])), effective[1]) == (Decimal("9.5"), "111111111111")


def test_rerun_same_window_never_double_counts(aws: FakeAws, sqlite_engine: Engine) -> None:
    aws.queue_ce(
        page({d(2): [group("1", "Amazon EC2", "5.25")], d(1): [group("1", "Amazon EC2", "4.75")]})
    )
    src = source(aws, inventory=False, metrics=False, s3=False, first_days=2, restate_days=2)
    first = AwsCollector(src).collect(sqlite_engine, TODAY)
    # watermark TODAY - restate 2 days: the same window, so moto answers the same again
    again = AwsCollector(src).collect(sqlite_engine, TODAY)
    assert again.window == first.window
    assert first.status == again.status == "ok"
    assert totals(sqlite_engine, "prod") == (2, Decimal("10"))
    assert first.api_calls["ce:GetCostAndUsage"] == 1


def test_restate_window_replaces_changed_amounts(aws: FakeAws, sqlite_engine: Engine) -> None:
    src = source(aws, inventory=False, metrics=False, s3=False, first_days=3, restate_days=1)
    aws.queue_ce(page({d(4): [group("1", "Amazon EC2", "1.00")],
                       d(3): [group("1", "Amazon EC2", "2.00")],
                       d(2): [group("1", "Amazon EC2", "3.00")]}))  # fmt: skip
    day_before = TODAY - timedelta(days=1)
    assert AwsCollector(src).collect(sqlite_engine, day_before).window == (d(4), day_before)
    # next night: the window restates d(2) (restate_days=1) and adds d(1); d(2) changed
    aws.queue_ce(
        page({d(2): [group("1", "Amazon EC2", "3.50")], d(1): [group("1", "Amazon EC2", "4.00")]})
    )
    s = AwsCollector(src).collect(sqlite_engine, TODAY)
    assert s.window == (d(2), TODAY)
    assert totals(sqlite_engine, "prod") == (4, Decimal("10.50"))


def test_malformed_group_quarantined_and_rest_kept(aws: FakeAws, sqlite_engine: Engine) -> None:
    bad_amount = group("1", "Amazon EC2", "12,50")
    no_keys = {"Metrics": group("1", "x", "1")["Metrics"]}
    aws.queue_ce(page({d(1): [group("1", "Amazon S3", "2.50"), bad_amount, no_keys]}))
    s = AwsCollector(source(aws, inventory=False, metrics=False, s3=False)).collect(
        sqlite_engine, TODAY
    )
    assert s.status == "ok" and s.rows["cost_records"] == 1
    assert s.quarantined == {
        "UnblendedCost amount '12,50' is not a decimal": 1,
        "group Keys missing or not matching GroupDefinitions": 1,
    }
    assert totals(sqlite_engine, "prod") == (1, Decimal("2.5"))


def test_check_ok_and_unreachable(aws: FakeAws) -> None:
    assert AwsCollector(source(aws)).check().status == "ok"
    down = AwsCollector(source(aws, endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1))
    c = down.check()
    assert c.status == "unreachable" and "sts:GetCallerIdentity" in c.detail and c.hint


def test_no_credentials_is_auth_failed(
    aws: FakeAws, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    s = AwsCollector(source(aws)).collect(sqlite_engine, TODAY)
    assert s.status == "auth_failed" and "aws sso login" in s.hint
    with sqlite_engine.connect() as conn:
        assert conn.execute(sa.select(SourceState.__table__.c.last_status)).scalar_one() == "failed"


def _client_error(code: str, message: str, operation: str, status: int = 400) -> bx.ClientError:
    return bx.ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@pytest.mark.parametrize(
    ("code", "service", "operation", "status", "permission"),
    [
        (
            "AccessDeniedException",
            "ce",
            "GetCostAndUsage",
            "permission_denied",
            "ce:GetCostAndUsage",
        ),
        (
            "UnauthorizedOperation",
            "ec2",
            "DescribeInstances",
            "permission_denied",
            "ec2:DescribeInstances",
        ),
        ("AccessDenied", "s3", "ListBuckets", "permission_denied", "s3:ListAllMyBuckets"),
        ("ExpiredToken", "sts", "GetCallerIdentity", "auth_failed", None),
        ("UnrecognizedClientException", "ce", "GetCostAndUsage", "auth_failed", None),
        ("InvalidClientTokenId", "sts", "GetCallerIdentity", "auth_failed", None),
        ("ThrottlingException", "ce", "GetCostAndUsage", "throttled", None),
        ("Throttling", "cloudwatch", "GetMetricData", "throttled", None),
        ("LimitExceededException", "ce", "GetCostAndUsage", "throttled", None),
        ("DataUnavailableException", "ce", "GetCostAndUsage", "no_data", None),
        ("AccessDenied", "s3", "GetObject", "permission_denied", "s3:GetObject"),
        (
            "AccessDenied",
            "autoscaling",
            "DescribeAutoScalingGroups",
            "permission_denied",
            "autoscaling:DescribeAutoScalingGroups",
        ),
        (
            "UnauthorizedOperation",
            "ec2",
            "DescribeSpotPriceHistory",
            "permission_denied",
            "ec2:DescribeSpotPriceHistory",
        ),
        (
            "AccessDeniedException",
            "pricing",
            "GetProducts",
            "permission_denied",
            "pricing:GetProducts",
        ),
        ("AccessDenied", "sts", "AssumeRole", "permission_denied", "sts:AssumeRole"),
        ("NoSuchBucket", "s3", "ListObjectsV2", "invalid_config", None),
    ],
)
def test_client_errors_map_to_status_and_hint(
    code: str, service: str, operation: str, status: str, permission: str | None
) -> None:
    err = map_error(_client_error(code, "denied or throttled", operation), service, operation)
    assert (err.status, err.missing_permission) == (status, permission)
    assert code in err.detail and err.hint


def test_sdk_errors_map_to_status() -> None:
    assert map_error(bx.NoCredentialsError(), "sts", "GetCallerIdentity").status == "auth_failed"
    unreachable = bx.EndpointConnectionError(endpoint_url="https://ce.us-east-1.amazonaws.com")
    assert map_error(unreachable, "ce", "GetCostAndUsage").status == "unreachable"
    assert map_error(bx.ProfileNotFound(profile="nope"), "sts", "X").status == "invalid_config"


def test_cli_one_source_down_other_stored(
    aws: FakeAws,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from optimizer.cli import main

    aws.queue_ce(page({d(1): [group("1", "Amazon EC2", "7.77")]}))
    down = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "optimizer.toml").write_text(
        f'[[sources]]\ntype = "aws"\nname = "good"\nendpoint_url = "{aws.url}"\nfirst_days = 2\n'
        'inventory = false\nmetrics = false\ns3 = false\nprices = false\n\n'
        f'[[sources]]\ntype = "aws"\nname = "down"\nendpoint_url = "{down}"\nmax_attempts = 1\n'
    )  # fmt: skip
    db = f"sqlite:///{tmp_path / 'store.db'}"
    base = ["--db", db, "--config", str(tmp_path / "optimizer.toml")]
    with pytest.raises(SystemExit) as init:
        main([*base, "init"])
    assert init.value.code in (0, None)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([*base, "collect", "aws", "--json"])
    assert exit_.value.code == 3
    out = json.loads(capsys.readouterr().out)
    by_name = {r["source"]: r for r in out}
    assert by_name["good"]["status"] == "ok" and by_name["good"]["rows"]["cost_records"] == 1
    assert by_name["down"]["status"] == "unreachable"
    from store.engine import make_engine

    assert totals(make_engine(db), "good") == (1, Decimal("7.77"))
    with pytest.raises(SystemExit):
        main([*base, "--json", "sources", "list"])
    listed = {r["name"]: r["last_status"] for r in json.loads(capsys.readouterr().out)}
    assert listed == {"good": "ok", "down": "failed"}


def test_config_takes_aws_sources(tmp_path: Path) -> None:
    path = tmp_path / "optimizer.toml"
    path.write_text('[[sources]]\ntype = "aws"\nname = "prod"\nregions = ["eu-west-1"]\n'
                    'role_arn = "arn:aws:iam::1:role/r"\n')  # fmt: skip
    (src,) = load_config(path).sources
    assert isinstance(src, AwsSource) and src.regions == ["eu-west-1"] and src.restate_days == 3
    path.write_text('[[sources]]\ntype = "aws"\nname = "prod"\nsecret_key = "x"\n')
    with pytest.raises(Exception, match="secret_key"):
        load_config(path)


def test_mapping_cost_key_is_stable() -> None:
    a = mapping.cost_key("prod", date(2024, 1, 1), "1", "Amazon EC2")
    assert a == mapping.cost_key("prod", date(2024, 1, 1), "1", "Amazon EC2")
    assert a != mapping.cost_key("aws:other", date(2024, 1, 1), "1", "Amazon EC2")


@pytest.mark.parametrize(("throttle", "attempts", "outcome"), [(1, 2, "ok"), (2, 2, "throttled")])
def test_throttling_retried_by_the_sdk_then_mapped(
    aws: FakeAws, throttle: int, attempts: int, outcome: str
) -> None:
    fake = ThrottlingCe(throttle)
    try:
        api = AwsApi(source(aws, endpoint_url=fake.url, max_attempts=attempts))
        try:
            pages = list(api.cost_and_usage(d(2), d(1), mapping.CE_GROUP_BY))
            status = "ok" if [p["ResultsByTime"] for p in pages] == [[]] else "?"
        except AwsError as exc:
            status = exc.status
            assert "ce:GetCostAndUsage: ThrottlingException" in exc.detail
        assert status == outcome
        assert fake.requests == min(throttle + 1, attempts)  # the SDK retried
        assert api.calls == {"ce:GetCostAndUsage": 1}  # counted once, retries included
    finally:
        fake.close()


def test_purchase_type_split_costs_extra_calls(aws: FakeAws, engine: Engine) -> None:
    discovery = {
        "GroupDefinitions": [{"Type": "DIMENSION", "Key": "PURCHASE_TYPE"}],
        "ResultsByTime": [{
            "TimePeriod": {"Start": d(3).isoformat(), "End": TODAY.isoformat()}, "Total": {},
            "Groups": [{"Keys": [k], "Metrics": group("x", "y", v)["Metrics"]}
                       for k, v in (("On Demand Instances", "9"), ("Spot Instances", "1"))],
            "Estimated": True}],
    }  # fmt: skip
    aws.queue_ce(
        discovery,
        page({d(2): [group("1", "Amazon EC2", "5.00"), group("1", "Amazon S3", "4.00")]}),
        page({d(2): [group("1", "Amazon EC2", "1.00")]}),
    )
    src = source(aws, inventory=False, metrics=False, s3=False, ce_purchase_type=True)
    s = AwsCollector(src).collect(engine, TODAY)
    assert s.status == "ok", s
    assert s.api_calls["ce:GetCostAndUsage"] == 3  # 1 discovery + 1 per purchase type
    assert totals(engine, "prod") == (3, Decimal("10"))
    with engine.connect() as conn:
        q = "select service_name, pricing_category, billed_cost from cost_record"
        got = sorted(conn.execute(sa.text(q)).all())
    assert [(a, b, Decimal(str(c))) for a, b, c in got] == [
        ("Amazon EC2", "Dynamic", Decimal("1")),
        ("Amazon EC2", "Standard", Decimal("5")),
        ("Amazon S3", "Standard", Decimal("4")),
    ]
    # re-run: same requests, same answers, replaced not doubled
    assert AwsCollector(src).collect(engine, TODAY).status == "ok"
    assert totals(engine, "prod") == (3, Decimal("10"))


def test_pricing_category_of_purchase_types() -> None:
    kinds = ("On Demand Instances", "Spot Instances", "Standard Reserved Instances",
             "Convertible Reserved Instances", "Savings Plans", "Dedicated Host Reservation",
             "Capacity Block")  # fmt: skip
    want = ["Standard", "Dynamic", "Committed", "Committed", "Committed", "Committed", "Other"]
    assert [mapping.pricing_category(p) for p in kinds] == want
