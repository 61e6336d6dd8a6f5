"""The nightly run in-process: stage records, the run lock, resume, stop, stale data.

The real crash (kill -9 of a running `optimizer run`) is in test_nightly_run_crash.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.config import Config, load_config
from optimizer.freshness import StaleData, check_fresh, newest_data
from optimizer.nightly import RunOptions, run_nightly
from optimizer.run_liveness import gone, this_process
from store.audit import verify as verify_log
from store.locks import TABLE as LOCKS
from store.locks import LockHeld, hold
from store.types import utcnow
from tests.focus_files import base_row, write_focus_csv


def recent_rows(n: int, tag: str, end: datetime | None = None) -> list[dict[str, str]]:
    """FOCUS rows in the 20 days before `end` (now by default): fresh data."""
    end = (end or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    rows = []
    for i in range(n):
        row = base_row(i, cost=f"0.{(i % 97) + 1:02d}")
        start = end - timedelta(hours=1 + (i % 480))
        month = start.replace(day=1, hour=0)
        row |= {
            "ChargePeriodStart": f"{start:%Y-%m-%d %H:%M:%S}",
            "ChargePeriodEnd": f"{start + timedelta(hours=1):%Y-%m-%d %H:%M:%S}",
            "BillingPeriodStart": f"{month:%Y-%m-%d %H:%M:%S}",
            "BillingPeriodEnd": f"{(month + timedelta(days=32)).replace(day=1):%Y-%m-%d %H:%M:%S}",
            "ResourceId": f"i-{tag}-{i % 50:04d}",
            "ServiceName": f"svc-{i % 7}",
            "ChargeDescription": f"{tag} line {i}",
        }
        rows.append(row)
    return rows


def focus_config(tmp_path: Path, extra: str = "") -> Config:
    path = tmp_path / "optimizer.toml"
    path.write_text(
        '[forecast]\nworkers = 1\n\n[[sources]]\ntype = "focus"\nname = "finance"\n'
        f'paths = ["exports/*.csv"]\n{extra}'
    )
    return load_config(path)


@pytest.fixture
def fresh_source(tmp_path: Path) -> Config:
    (tmp_path / "exports").mkdir()
    write_focus_csv(tmp_path / "exports" / "m1.csv", recent_rows(40, "a"))
    return focus_config(tmp_path)


def verified(engine: Engine) -> bool:
    with engine.connect() as conn:
        return verify_log(conn).ok


def runs(engine: Engine) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT * FROM run ORDER BY id")).all())


def test_each_stage_is_recorded_with_timings_host_and_an_audit_event(
    engine: Engine, fresh_source: Config
) -> None:
    out = run_nightly(engine, fresh_source, ("collect",))
    assert out.status == "ok" and [r.status for r in out.results] == ["ok"]
    (row,) = runs(engine)
    assert row.status == "ok" and row.host == this_process() and row.resumed_from is None
    assert row.finished_at is not None and row.heartbeat_at is not None
    stages = json.loads(row.stages)
    assert [s["name"] for s in stages] == ["collect"]
    assert stages[0]["rows"] == 40 and stages[0]["finished_at"] >= stages[0]["started_at"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(LOCKS)).scalar() == 0
        actions = [r[0] for r in conn.execute(sa.text("SELECT action FROM audit_event"))]
    assert actions == ["collect", "collect", "run"]  # the reference facts, the file, the run
    assert verified(engine)


def test_a_held_lock_refuses_a_second_run_and_a_dead_holder_is_taken_over(
    engine: Engine, fresh_source: Config
) -> None:
    with hold(engine, "run"), pytest.raises(LockHeld, match="'run' lock is held"):
        run_nightly(engine, fresh_source, ("collect",))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    holder = f"{this_process().split(':')[0]}:{dead.stdout.strip()}:abcd1234"
    assert gone(holder) and not gone(this_process()) and not gone("elsewhere:1:x")
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            LOCKS.insert().values(
                name="run", holder=holder, acquired_at=now, expires_at=now + timedelta(hours=1)
            )
        )
    assert run_nightly(engine, fresh_source, ("collect",)).status == "ok"


def _crashed_run(engine: Engine, stages: list[dict[str, object]], host: str) -> int:
    now = utcnow()
    with engine.begin() as conn:
        return int(
            conn.execute(
                sa.text(
                    "INSERT INTO run (kind, started_at, status, stages, host, heartbeat_at) "
                    "VALUES ('nightly', :t, 'running', :s, :h, :t) RETURNING id"
                ),
                {"t": now.replace(tzinfo=None), "s": json.dumps(stages), "h": host},
            ).scalar_one()
        )


@pytest.mark.parametrize("when", ["today", "yesterday", "fresh"])
def test_a_dead_run_is_marked_crashed_and_resumed(
    engine: Engine, fresh_source: Config, when: str
) -> None:
    done_at = utcnow() - timedelta(days=1 if when == "yesterday" else 0)
    crashed = _crashed_run(
        engine,
        [
            {"name": "collect", "status": "ok", "finished_at": done_at.isoformat()},
            {"name": "forecast", "status": "running", "started_at": done_at.isoformat()},
        ],
        host="some-pod-that-was-evicted:4242",
    )
    opts = RunOptions(fresh=when == "fresh")
    out = run_nightly(engine, fresh_source, ("collect", "forecast"), opts)
    assert [c.run_id for c in out.crashed] == [crashed]
    assert "no heartbeat since" in out.crashed[0].reason
    first = out.results[0].status
    if when == "today":
        assert out.resumed_from == crashed and first == "skipped"
        assert out.results[0].data["done_in_run"] == crashed
    else:
        assert first == "ok"
        assert out.resumed_from == (None if when == "fresh" else crashed)
    assert out.results[1].status == "ok" and out.status == "ok"
    old, new = runs(engine)
    assert old.status == "crashed" and "crashed: no heartbeat" in old.error
    assert new.resumed_from == out.resumed_from
    assert verified(engine)


def test_a_resumed_run_that_crashes_again_keeps_what_the_first_one_did(
    sqlite_engine: Engine, fresh_source: Config
) -> None:
    now = utcnow().isoformat()
    first = _crashed_run(
        sqlite_engine, [{"name": "collect", "status": "ok", "finished_at": now}], host="gone:1"
    )
    with sqlite_engine.begin() as conn:
        conn.execute(sa.text("UPDATE run SET status = 'crashed' WHERE id = :i"), {"i": first})
    skipped = {"name": "collect", "status": "skipped", "done_in_run": first, "done_at": now}
    second = _crashed_run(sqlite_engine, [skipped], host="gone:2")
    out = run_nightly(sqlite_engine, fresh_source, ("collect",))
    assert out.resumed_from == second and out.results[0].status == "skipped"
    assert out.results[0].data["done_in_run"] == first


def test_a_stage_after_one_that_runs_again_runs_again_too(
    sqlite_engine: Engine, fresh_source: Config
) -> None:
    now = utcnow().isoformat()
    crashed = _crashed_run(
        sqlite_engine, [{"name": "forecast", "status": "ok", "finished_at": now}], host="gone:3"
    )
    out = run_nightly(sqlite_engine, fresh_source, ("collect", "forecast"))
    assert out.resumed_from == crashed
    assert [r.status for r in out.results] == ["ok", "ok"]  # new data: forecast again


def test_a_stop_request_aborts_at_the_next_stage_boundary(
    sqlite_engine: Engine, fresh_source: Config
) -> None:
    stop = threading.Event()
    stop.set()
    out = run_nightly(sqlite_engine, fresh_source, ("collect", "plan"), RunOptions(stop=stop))
    assert out.status == "aborted" and {r.status for r in out.results} == {"aborted"}
    assert runs(sqlite_engine)[0].status == "aborted"
    again = run_nightly(sqlite_engine, fresh_source, ("collect",))
    assert again.resumed_from == out.run_id and again.results[0].status == "ok"


def test_the_stale_data_guard_names_the_source_its_age_and_the_fix(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "exports").mkdir()
    write_focus_csv(tmp_path / "exports" / "old.csv", [base_row(i) for i in range(5)])  # 2024
    write_focus_csv(tmp_path / "exports" / "new.csv", recent_rows(5, "n"))
    config = focus_config(tmp_path, "\n[run]\nstale_after_hours = 24\n")
    ages = {a.source: a for a in newest_data(sqlite_engine, config)}
    assert ages == {}  # nothing collected yet: nothing to judge
    out = run_nightly(sqlite_engine, config, ("collect", "plan"))
    assert out.results[0].status == "ok"
    (age,) = newest_data(sqlite_engine, config)  # both files are one source
    assert age.source == "finance" and age.kind == "cost records" and age.hours < 24
    (tmp_path / "exports" / "new.csv").unlink()
    with sqlite_engine.begin() as conn:  # as if the fresh file had never come
        conn.execute(sa.text("DELETE FROM source_state WHERE source_key = 'finance:new.csv'"))
    with pytest.raises(StaleData) as caught:
        check_fresh(sqlite_engine, config)
    err = caught.value
    assert "finance (cost records): newest 2024-09-" in err.message and "h old" in err.message
    assert err.exit_code == 3 and "--allow-stale" in (err.fix or "")
    assert "stale_after_hours" in (err.fix or "")
    refused = run_nightly(sqlite_engine, config, ("plan",))
    assert refused.status == "failed" and refused.results[0].exit_code == 3
    assert "refusing to plan on stale data" in refused.results[0].detail
    allowed = run_nightly(sqlite_engine, config, ("plan",), RunOptions(allow_stale=True))
    assert "no policy file" in allowed.results[0].detail  # past the guard, to the plan


def test_only_configured_sources_are_judged(sqlite_engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    write_focus_csv(tmp_path / "exports" / "old.csv", [base_row(i) for i in range(3)])
    config = focus_config(tmp_path)
    run_nightly(sqlite_engine, config, ("collect",))
    everything = newest_data(sqlite_engine, Config())  # none configured: every store key
    assert [a.source for a in everything] == ["finance:old.csv"]
    renamed = Config.model_validate(
        {"sources": [{"type": "focus", "name": "billing", "paths": ["x"]}]}
    )
    assert newest_data(sqlite_engine, renamed) == []
