"""Compute Engine instances (+ managed instance groups) -> workloads, Cloud Monitoring CPU
(a real in-process gRPC MetricService) -> `cpu_pct` samples, and Cloud Storage buckets
(gcp-storage-emulator) -> storage groups, each through the real google SDK client."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import grpc
import sqlalchemy as sa
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from sqlalchemy.engine import Engine

from collectors.gcp.collector import GcpCollector
from collectors.gcp.settings import GcpSource
from store.models import StorageGroup, UsageSample, Workload
from tests.gcp_data import ACCOUNT, PROJECT, cpu_series, igm, instance, machine_type, midnight
from tests.gcp_fake import FakeGcp, denied, gcp_fixture  # noqa: F401
from tests.gcp_storage import gcs_fixture  # noqa: F401

TODAY = date(2024, 3, 10)


def source(gcp: FakeGcp, storage_url: str | None = None, **kw: Any) -> GcpSource:
    base: dict[str, Any] = {
        "type": "gcp", "name": "corp", "billing_account": ACCOUNT, "projects": [PROJECT],
        "endpoints": gcp.endpoints(storage_url), "spend": False, "prices": False,
        "storage": False, "first_days": 2, "max_attempts": 2, "retry_seconds": 0,
    }  # fmt: skip
    return GcpSource(**{**base, **kw})


def rows(engine: Engine, model: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(model.__table__)).all())


def estate(gcp: FakeGcp) -> None:
    gcp.machine_types = {"us-central1-a": [machine_type("n2-standard-4", 4, 16384),
                                           machine_type("e2-standard-2", 2, 8192)]}  # fmt: skip
    gcp.instances = {PROJECT: {
        "us-central1-a": [
            instance(101, "web-1", "n2-standard-4", labels={"owner": "shop"}, mig="web"),
            instance(102, "web-2", "n2-standard-4", mig="web"),
            instance(103, "batch-1", "e2-standard-2", spot=True),
            instance(106, "api-1", "e2-standard-2", mig="api", mig_region="us-central1"),
            instance(107, "gone-1", "e2-standard-2", mig="deleted-group"),
        ],
        "us-central1-b": [instance(104, "odd-1", "n2-custom-6-24576", "us-central1-b")],
        "europe-west1-b": [instance(105, "eu-1", "n2-standard-4", "europe-west1-b")],
    }}  # fmt: skip
    gcp.igms = {PROJECT: {"us-central1-a": [igm("web")],
                          "regions/us-central1": [igm("api", region="us-central1")]}}  # fmt: skip


def test_instances_become_workloads_with_their_mig(gcp: FakeGcp, engine: Engine) -> None:
    estate(gcp)
    gcp.page_size = 2
    s = GcpCollector(source(gcp, metrics=False, regions=["us-central1"])).collect(engine, TODAY)
    assert s.status == "ok", s
    assert s.rows == {"workloads": 6}
    assert s.api_calls == {"compute.instanceGroupManagers.aggregatedList": 1,
                           "compute.instances.aggregatedList": 4,
                           "compute.machineTypes.aggregatedList": 1}  # fmt: skip
    got = {w.name: w for w in rows(engine, Workload)}
    web = got[f"gcp:{PROJECT}:us-central1-a:web-1"]
    assert (web.provider, web.region, web.zone, web.instance_type, web.vcpu, web.memory_gib) == (
        "gcp", "us-central1", "us-central1-a", "n2-standard-4", 4, 16.0)  # fmt: skip
    assert web.owner == "shop" and web.tags == {"owner": "shop", "gcp-mig": "web"}
    assert web.series_id == "gcp:101" and web.account_id == PROJECT
    assert got[f"gcp:{PROJECT}:us-central1-a:batch-1"].purchase_option == "spot"
    assert got[f"gcp:{PROJECT}:us-central1-a:api-1"].tags == {"gcp-mig": "api"}  # regional
    assert got[f"gcp:{PROJECT}:us-central1-a:gone-1"].tags is None  # its group is gone
    odd = got[f"gcp:{PROJECT}:us-central1-b:odd-1"]
    assert (odd.vcpu, odd.memory_gib) == (6, 24.0)  # custom type sized from its name
    # a re-run updates in place
    assert GcpCollector(source(gcp, metrics=False)).collect(engine, TODAY).rows == {"workloads": 7}
    assert len(rows(engine, Workload)) == 7


def test_cpu_utilization_from_monitoring_grpc(gcp: FakeGcp, engine: Engine) -> None:
    estate(gcp)
    start = midnight(TODAY - timedelta(days=2))
    gcp.series = [cpu_series(101, start, 48, 0.25), cpu_series(102, start, 48, 0.5),
                  cpu_series(999, start, 48, 0.9),  # not an instance we know: ignored
                  cpu_series(103, start - timedelta(hours=3), 5, 1.5)]  # fmt: skip
    gcp.page_size = 2
    s = GcpCollector(source(gcp, inventory=False)).collect(engine, TODAY)
    assert s.status == "ok", s
    # 48 + 48 + the 2 hours of 103 inside the window (values clipped to 100 %)
    assert s.rows == {"usage_samples": 98} and s.api_calls["monitoring.timeSeries.list"] == 2
    sent = gcp.monitoring_requests[0]
    assert sent.name == f"projects/{PROJECT}"
    assert sent.filter == 'metric.type = "compute.googleapis.com/instance/cpu/utilization"'
    assert sent.aggregation.alignment_period.total_seconds() == 3600
    assert sent.aggregation.per_series_aligner.name == "ALIGN_MEAN"
    samples = rows(engine, UsageSample)
    by_series = {(x.series_id, x.ts.replace(tzinfo=None)): x.value for x in samples}
    assert by_series[("gcp:101", start.replace(tzinfo=None))] == 25.0
    assert by_series[("gcp:102", start.replace(tzinfo=None) + timedelta(hours=47))] == 50.0
    assert {x.value for x in samples if x.series_id == "gcp:103"} == {100.0}
    # a re-run of the same window replaces its samples, never doubles them
    rerun = GcpCollector(source(gcp, inventory=False, restate_days=2)).collect(engine, TODAY)
    assert rerun.status == "ok" and rerun.window == (TODAY - timedelta(days=2), TODAY)
    assert len(rows(engine, UsageSample)) == 98


def test_monitoring_throttled_is_retried_and_a_failure_keeps_old_samples(
    gcp: FakeGcp, engine: Engine
) -> None:
    estate(gcp)
    start = midnight(TODAY - timedelta(days=2))
    gcp.series = [cpu_series(101, start, 48, 0.25), cpu_series(102, start, 48, 0.5)]
    gcp.page_size = 1
    gcp.monitoring_queued = [grpc.StatusCode.RESOURCE_EXHAUSTED]
    s = GcpCollector(source(gcp, inventory=False)).collect(engine, TODAY)
    assert s.status == "ok" and s.rows == {"usage_samples": 96}, s
    assert s.api_calls["monitoring.timeSeries.list"] == 3  # one retry, two pages
    # the second page keeps failing: the window's replacement is rolled back
    gcp.series = [cpu_series(101, start, 48, 0.75), cpu_series(102, start, 48, 0.75)]
    gcp.monitoring_queued = [None] + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 2
    failed = GcpCollector(source(gcp, inventory=False, restate_days=2)).collect(engine, TODAY)
    assert failed.status == "throttled", failed
    assert failed.api_calls["monitoring.timeSeries.list"] == 3  # page 1, page 2 twice
    assert {x.value for x in rows(engine, UsageSample)} == {25.0, 50.0}  # the old ones


def test_monitoring_denied_is_reported(gcp: FakeGcp, engine: Engine) -> None:
    estate(gcp)
    gcp.monitoring_failure = grpc.StatusCode.PERMISSION_DENIED
    s = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert s.status == "permission_denied" and "monitoring.timeSeries.list" in s.hint, s


def test_buckets_become_storage_groups(gcp: FakeGcp, gcs: str, engine: Engine) -> None:
    client = storage.Client(project=PROJECT, credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": gcs})  # fmt: skip
    logs = client.create_bucket("shop-logs", location="US-CENTRAL1")
    logs.add_lifecycle_set_storage_class_rule("NEARLINE", age=30)
    logs.add_lifecycle_delete_rule(age=365)
    logs.patch()  # the emulator keeps lifecycle rules set by a patch
    for i in range(3):
        logs.blob(f"2024/03/{i}.log").upload_from_string(b"x" * (100 * (i + 1)))
    cold = logs.blob("2023/archive.log")
    cold.storage_class = "NEARLINE"
    cold.upload_from_string(b"y" * 1000)
    client.create_bucket("shop-empty")
    s = GcpCollector(source(gcp, gcs, storage=True, inventory=False, metrics=False)).collect(
        engine, TODAY
    )
    assert s.status == "ok", s
    assert s.rows == {"storage_groups": 3}
    assert s.api_calls == {"storage.buckets.list": 1, "storage.objects.list": 2}
    groups = {g.name: g for g in rows(engine, StorageGroup)}
    std = groups["gcp:shop-logs:STANDARD"]
    location = str(client.get_bucket("shop-logs").location).lower()  # as the API reports it
    assert (std.bytes, std.objects, std.tier, std.region) == (600, 3, "STANDARD", location)
    assert groups["gcp:shop-logs:NEARLINE"].bytes == 1000
    assert std.lifecycle_rules == [
        {"action": {"type": "SetStorageClass", "storageClass": "NEARLINE"},
         "condition": {"age": 30}},
        {"action": {"type": "Delete"}, "condition": {"age": 365}},
    ]  # fmt: skip
    assert groups["gcp:shop-empty:STANDARD"].objects == 0
    again = GcpCollector(source(gcp, gcs, storage=True, inventory=False, metrics=False)).collect(
        engine, TODAY
    )
    assert again.status == "ok" and len(rows(engine, StorageGroup)) == 3
