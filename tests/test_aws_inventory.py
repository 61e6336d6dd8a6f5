"""AWS inventory details and faults: Auto Scaling groups, stopped and terminated instances,
empty windows, a source down beside one that works, idempotent re-runs (SQLite and
PostgreSQL), assume-role through moto's STS."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.aws.collector import AwsCollector, totals
from collectors.aws.mapping import ASG_TAG, STATE_TAG
from store.models import Workload
from tests.aws_fake import FakeAws, aws_fixture, free_port, moto_server  # noqa: F401
from tests.test_aws_collector import TODAY, d, group, page, seed_estate, source


def seed_asg(aws: FakeAws, desired: int = 2) -> None:
    ec2 = aws.client("ec2")
    ec2.create_launch_template(
        LaunchTemplateName="web-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="web-asg", MinSize=0, MaxSize=5, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateName": "web-lt", "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
    )  # fmt: skip


def workloads(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.series_id: r for r in conn.execute(sa.select(Workload.__table__))}  # type: ignore[attr-defined]


def test_asg_stopped_terminated(aws: FakeAws, engine: Engine) -> None:
    web, batch = seed_estate(aws)
    seed_asg(aws)
    ec2 = aws.client("ec2")
    ec2.stop_instances(InstanceIds=[web])
    ec2.terminate_instances(InstanceIds=[batch])
    src = source(aws, cost_explorer=False, metrics=False, s3=False)
    s = AwsCollector(src).collect(engine, TODAY)
    assert s.status == "ok", s
    assert s.rows == {"autoscaling_groups": 1, "workloads": 3}  # 2 in the group + stopped web
    assert s.api_calls["autoscaling:DescribeAutoScalingGroups"] == 1
    w = workloads(engine)
    assert f"aws:{batch}" not in w  # terminated: not a workload
    assert w[f"aws:{web}"].tags[STATE_TAG] == "stopped"
    members = [r for r in w.values() if (r.tags or {}).get(ASG_TAG) == "web-asg"]
    assert len(members) == 2 and all(STATE_TAG not in r.tags for r in members)
    assert {r.instance_type for r in members} == {"t3.micro"}
    # re-run: same rows (upserted by name), nothing doubled
    again = AwsCollector(src).collect(engine, TODAY)
    assert again.status == "ok" and len(workloads(engine)) == 3
    # started again: the mark goes
    ec2.start_instances(InstanceIds=[web])
    AwsCollector(src).collect(engine, TODAY)
    assert STATE_TAG not in (workloads(engine)[f"aws:{web}"].tags or {})


def test_empty_window_reads_no_spend(aws: FakeAws, sqlite_engine: Engine) -> None:
    aws.queue_ce(page({d(1): [group("1", "Amazon EC2", "2.00")]}))
    src = source(aws, inventory=False, metrics=False, s3=False, first_days=1, restate_days=0)
    first = AwsCollector(src).collect(sqlite_engine, TODAY)
    assert first.status == "ok" and first.rows["cost_records"] == 1
    # same day again, restate_days 0: the window [TODAY, TODAY) is empty
    empty = AwsCollector(src).collect(sqlite_engine, TODAY)
    assert empty.status == "ok" and empty.window == (TODAY, TODAY)
    assert empty.rows["cost_records"] == 0 and "ce:GetCostAndUsage" not in empty.api_calls
    assert totals(sqlite_engine, "prod") == (1, Decimal("2"))


def test_one_source_down_other_kept(aws: FakeAws, engine: Engine) -> None:
    aws.queue_ce(page({d(1): [group("1", "Amazon EC2", "3.00")]}))
    good = AwsCollector(source(aws, inventory=False, metrics=False, s3=False))
    down_src = source(aws, name="down", endpoint_url=f"http://127.0.0.1:{free_port()}",
                      max_attempts=1)  # fmt: skip
    results = [c.collect(engine, TODAY) for c in (AwsCollector(down_src), good)]
    assert [r.status for r in results] == ["unreachable", "ok"]
    assert totals(engine, "prod") == (1, Decimal("3")) and totals(engine, "down")[0] == 0


def test_assume_role_through_sts(aws: FakeAws, sqlite_engine: Engine) -> None:
    aws.queue_ce(page({d(1): [group("1", "Amazon EC2", "4.00")]}))
    role = "arn:aws:iam::123456789012:role/optimizer-reader"
    src = source(aws, role_arn=role, inventory=False, metrics=False, s3=False)
    s = AwsCollector(src).collect(sqlite_engine, TODAY)
    assert s.status == "ok", s
    assert s.api_calls["sts:AssumeRole"] == 1
    assert s.detail.startswith("account 123456789012")  # the assumed role's account
    assert AwsCollector(src).check().status == "ok"
