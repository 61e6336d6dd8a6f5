"""Issue #6 operations, measured against baselines taken in the same run.

- apply: `run_apply --execute` of one one-off change re-tiering N objects in S3 (moto's
  server), against the same N CopyObject calls made by a bare boto3 loop. The ratio is
  what the engine's safety costs: reading the live state, the rollback record, the
  lock, the after-state read and the audit event.
- rollback: the same N objects back, against the bare loop.
- simulate: `optimizer simulate` of one scenario on the demo estate (store copies, two
  plans, the comparison), against two plain plans of the same estate.
- report: `optimizer report` on the demo estate (seconds and page size).

    .venv/bin/python bench/ops.py [--objects 2000] [--workloads 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from optimizer.apply.rollback import run_rollback  # noqa: E402
from optimizer.apply.run import run_apply  # noqa: E402
from optimizer.apply.settings import ApplySettings, AwsApplyTarget  # noqa: E402
from store.engine import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from tests.apply_store import approved_tiering  # noqa: E402
from tests.aws_strict_fake import moto_process  # noqa: E402


def bench_apply(objects: int, folder: Path) -> dict[str, Any]:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    engine = make_engine(f"sqlite:///{folder / 'apply.db'}")
    upgrade(engine)
    with moto_process() as moto:
        s3 = moto.client("s3")
        for bucket in ("bare-bucket", "ours-bucket"):
            s3.create_bucket(Bucket=bucket)
            for i in range(objects):
                s3.put_object(Bucket=bucket, Key=f"k/{i:06d}", Body=b"x")
        t = time.perf_counter()
        for i in range(objects):  # the baseline: the calls alone
            key = f"k/{i:06d}"
            s3.copy_object(
                Bucket="bare-bucket",
                Key=key,
                StorageClass="STANDARD_IA",
                CopySource={"Bucket": "bare-bucket", "Key": key},
                MetadataDirective="COPY",
            )
        bare = time.perf_counter() - t
        rec = approved_tiering(
            engine,
            provider="aws",
            bucket="ours-bucket",
            action="one-off",
            after_days=None,
            objects=objects,
        )
        settings = ApplySettings(
            aws=AwsApplyTarget(endpoint_url=moto.url), max_objects_per_change=objects
        )
        t = time.perf_counter()
        report = run_apply(engine, settings, execute=True, by="bench")
        ours = time.perf_counter() - t
        assert [o.status for o in report.outcomes] == ["applied"], report.outcomes
        t = time.perf_counter()
        [undo] = run_rollback(engine, settings, [rec], execute=True, by="bench")
        back = time.perf_counter() - t
        assert undo.status == "rolled_back" and len(undo.calls) == objects
    return {
        "objects": objects,
        "bare_boto3_s": round(bare, 2),
        "apply_s": round(ours, 2),
        "rollback_s": round(back, 2),
        "apply_over_bare": round(ours / bare, 2),
        "rollback_over_bare": round(back / bare, 2),
    }


def bench_simulate_and_report(workloads: int, folder: Path) -> dict[str, Any]:
    from optimizer.demo.build import build_demo
    from optimizer.planning import run_plan
    from policies import parse_policies
    from tests.conftest import run_cli

    db = folder / "demo.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    build_demo(
        engine,
        folder,
        workloads=workloads,
        storage_groups=workloads // 10,
        days=60,
        end=datetime(2026, 11, 1, tzinfo=UTC),
    )
    policy = parse_policies((folder / "policies.yaml").read_text())
    t = time.perf_counter()
    for _ in range(2):  # the baseline: what simulate must at least do
        run_plan(engine, policy, None, time_limit_s=30)
    plans = time.perf_counter() - t
    scenario = REPO / "examples" / "scenarios" / "lose-cloud-azure.yaml"
    args = [
        "--db",
        str(db),
        "--json",
        "simulate",
        str(scenario),
        "--policies",
        str(folder / "policies.yaml"),
        "--time-limit",
        "30",
    ]
    t = time.perf_counter()
    done = run_cli(*args)
    simulate = time.perf_counter() - t
    assert done.returncode == 0, done.stderr
    t = time.perf_counter()
    report = run_cli("--db", str(db), "report", "--out", str(folder / "report"))
    report_s = time.perf_counter() - t
    assert report.returncode == 0, report.stderr
    size = (folder / "report" / "report.html").stat().st_size
    return {
        "workloads": workloads,
        "two_plans_s": round(plans, 2),
        "simulate_cli_s": round(simulate, 2),
        "simulate_over_two_plans": round(simulate / plans, 2),
        "report_cli_s": round(report_s, 2),
        "report_html_kb": round(size / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--workloads", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = {
            "apply": bench_apply(args.objects, Path(tmp)),
            "simulate_report": bench_simulate_and_report(args.workloads, Path(tmp)),
        }
    print(json.dumps(out, indent=2))
    (REPO / "bench" / "out").mkdir(exist_ok=True)
    (REPO / "bench" / "out" / "ops.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
