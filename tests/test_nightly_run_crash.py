"""kill -9 of a real `optimizer run` subprocess, then the next run: the crashed run is
marked, the work resumed, nothing lost or counted twice, and the audit log verifies.

The files are big enough that collect takes a moment (four files, one transaction
each); the test waits for a point it can see in the store, never for a time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.engine import make_engine
from store.migrate import upgrade
from tests.conftest import REPO, run_cli
from tests.focus_files import total, write_focus_csv
from tests.test_nightly_run import recent_rows

FILES, ROWS = 4, 5_000
STAGES = "collect,forecast"


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Decimal]:
    """The FOCUS files (shared, read-only) with their row count and billed total."""
    folder = tmp_path_factory.mktemp("crash") / "exports"
    folder.mkdir()
    rows, billed = 0, Decimal(0)
    for f in range(FILES):
        data = recent_rows(ROWS, f"f{f}")
        write_focus_csv(folder / f"m{f}.csv", data)
        rows, billed = rows + len(data), billed + total(data)
    return folder, rows, billed


@pytest.fixture
def store(tmp_path: Path, exports: tuple[Path, int, Decimal]) -> tuple[str, str]:
    db = str(tmp_path / "s.db")
    config = tmp_path / "optimizer.toml"
    config.write_text(
        '[forecast]\nworkers = 1\n\n[[sources]]\ntype = "focus"\nname = "finance"\n'
        f'paths = ["{exports[0]}/*.csv"]\n'
    )
    initialised = make_engine(f"sqlite:///{db}")
    upgrade(initialised)  # what `optimizer init` does, without a process to start
    initialised.dispose()
    return db, str(config)


def _wait_for(engine: Engine, proc: subprocess.Popen[str], seen: Callable[[Engine], bool]) -> None:
    deadline = time.monotonic() + 240  # a guard against a hung test, not a timed assertion
    while not seen(engine):
        assert proc.poll() is None, f"the run ended before the kill: {proc.communicate()}"
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.02)


def _stages(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT stages FROM run WHERE id = 1")).scalar()
    return json.loads(raw) if raw else []


def collect_done(engine: Engine) -> bool:
    return any(s["name"] == "collect" and s["status"] == "ok" for s in _stages(engine))


def one_file_in(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM ingested_file")).scalar())


def _kill_then_resume(
    store: tuple[str, str], exports: tuple[Path, int, Decimal], when: Callable[[Engine], bool]
) -> tuple[dict[str, object], Engine]:
    db, config = store
    engine = make_engine(f"sqlite:///{db}")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "optimizer.cli",
            "--db",
            db,
            "--config",
            config,
            "run",
            "--stages",
            STAGES,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(engine, proc, when)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate()  # reaped: its pid is gone, as after a real crash
    assert proc.returncode == -signal.SIGKILL
    with engine.connect() as conn:
        status, host = conn.execute(sa.text("SELECT status, host FROM run WHERE id = 1")).one()
        held = conn.execute(sa.text("SELECT holder FROM store_lock WHERE name = 'run'")).scalar()
    assert status == "running" and host.endswith(f":{proc.pid}")
    assert held is not None and f":{proc.pid}:" in held  # the dead run's lock is still there
    again = run_cli("--db", db, "--config", config, "--json", "run", "--stages", STAGES)
    assert again.returncode == 0, again.stderr
    payload = json.loads(again.stdout)
    assert payload["crashed"] == [
        {"run_id": 1, "host": host, "reason": f"its process {host} is gone"}
    ]
    assert payload["resumed_from"] == 1 and payload["status"] == "ok"
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, status, resumed_from, error FROM run")).all()
        count = conn.execute(sa.text("SELECT count(*) FROM cost_record")).scalar()
        billed = conn.execute(sa.text("SELECT billed_cost FROM cost_record")).scalars().all()
        lock = conn.execute(sa.text("SELECT count(*) FROM store_lock")).scalar()
    assert [tuple(r[:3]) for r in rows] == [(1, "crashed", None), (2, "ok", 1)]
    assert rows[0][3] == f"crashed: its process {host} is gone" and lock == 0
    # what a clean run holds: every row of every file, once, to the last decimal
    assert count == exports[1]
    assert sum((Decimal(str(b)) for b in billed), Decimal(0)) == exports[2]
    audit = run_cli("--db", db, "audit", "verify")
    assert audit.returncode == 0 and "audit log intact" in audit.stdout, audit.stderr
    return payload, engine


def test_killed_after_collect_the_next_run_skips_it_and_forecasts(
    store: tuple[str, str], exports: tuple[Path, int, Decimal]
) -> None:
    payload, engine = _kill_then_resume(store, exports, collect_done)
    collect, forecast = payload["stages"]  # type: ignore[misc]
    assert collect["status"] == "skipped" and collect["done_in_run"] == 1
    assert forecast["status"] == "ok" and forecast["series"] >= 1
    engine.dispose()


def test_killed_mid_collect_the_next_run_collects_the_rest_once(
    store: tuple[str, str], exports: tuple[Path, int, Decimal]
) -> None:
    payload, engine = _kill_then_resume(store, exports, one_file_in)
    collect, forecast = payload["stages"]  # type: ignore[misc]
    assert collect["status"] == "ok" and forecast["status"] == "ok"
    with engine.connect() as conn:  # the files already in were recognised, not re-read
        files = conn.execute(sa.text("SELECT count(DISTINCT path) FROM ingested_file")).scalar()
    assert files == FILES
    engine.dispose()
