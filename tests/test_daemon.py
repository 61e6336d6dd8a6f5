"""`optimizer daemon` for real: a subprocess on a quick schedule, /metrics scraped over
HTTP, SIGTERM, the textfile; and its parts in-process (lock held, savings, logs)."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from optimizer.cli import cli
from optimizer.config import Config, load_config
from optimizer.daemon.logs import JsonFormatter
from optimizer.daemon.loop import Daemon, Plan
from optimizer.daemon.metrics import latest_plan
from optimizer.daemon.schedule import Schedule
from optimizer.daemon.settings import DaemonSettings
from store.engine import make_engine
from store.locks import hold
from store.migrate import upgrade
from store.models import Plan as PlanRow
from store.models import Recommendation
from store.types import utcnow
from tests.conftest import REPO, run_cli
from tests.focus_files import write_focus_csv
from tests.test_nightly_run import recent_rows

ROWS = 200
NAMES = (
    "optimizer_stage_duration_seconds",
    "optimizer_run_duration_seconds",
    "optimizer_last_run_timestamp_seconds",
    "optimizer_last_run_status",
    "optimizer_next_run_timestamp_seconds",
    "optimizer_rows_collected_total",
    "optimizer_last_run_rows_collected",
    "optimizer_savings_found_usd_per_month",
    "optimizer_recommendations",
    "optimizer_recommendations_applied_total",
    "optimizer_stage_failures_total",
    "optimizer_runs_total",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def samples(text: str) -> dict[str, float]:
    """`name{labels} value` lines of the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


@pytest.fixture
def setup(tmp_path: Path) -> tuple[str, Path]:
    (tmp_path / "exports").mkdir()
    write_focus_csv(tmp_path / "exports" / "m1.csv", recent_rows(ROWS, "d"))
    config = tmp_path / "optimizer.toml"
    config.write_text(
        '[daemon]\nstages = ["collect"]\nmetrics_textfile = "metrics.prom"\n\n'
        '[[sources]]\ntype = "focus"\nname = "finance"\npaths = ["exports/*.csv"]\n'
    )
    db = str(tmp_path / "s.db")
    initialised = make_engine(f"sqlite:///{db}")
    upgrade(initialised)  # what `optimizer init` does, without a process to start
    initialised.dispose()
    return db, config


def test_daemon_serves_metrics_logs_json_and_stops_cleanly_on_sigterm(
    setup: tuple[str, Path], tmp_path: Path
) -> None:
    db, config = setup
    port = free_port()
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "optimizer.cli",
            "--db",
            db,
            "--config",
            str(config),
            "daemon",
            "--every",
            "0.5",
            "--metrics-port",
            str(port),
            "--metrics-bind",
            "127.0.0.1",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    deadline = time.monotonic() + 240  # a guard against a hung test, not a timed assertion
    scraped: dict[str, float] = {}
    try:
        while scraped.get('optimizer_runs_total{status="ok"}', 0) < 1:
            assert proc.poll() is None, (tmp_path / "daemon.log").read_text()
            assert time.monotonic() < deadline, "no run finished ok"
            time.sleep(0.1)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    scraped = samples(r.read().decode())
            except OSError:
                continue
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=240)
        log.close()
    assert proc.returncode == 0
    names = {key.split("{")[0] for key in scraped}
    assert set(NAMES) <= names
    assert scraped['optimizer_last_run_status{status="ok"}'] == 1
    assert scraped['optimizer_last_run_status{status="failed"}'] == 0
    assert scraped["optimizer_last_run_rows_collected"] in (ROWS, 0)  # 0: file unchanged
    assert scraped["optimizer_rows_collected_total"] == ROWS  # written once, however many runs
    assert scraped['optimizer_stage_duration_seconds{stage="collect"}'] > 0
    assert scraped['optimizer_stage_failures_total{stage="collect"}'] == 0
    assert scraped["optimizer_savings_found_usd_per_month"] == 0  # no plan stage here
    assert scraped["optimizer_last_run_timestamp_seconds"] > 1.7e9
    lines = [json.loads(line) for line in (tmp_path / "daemon.log").read_text().splitlines()]
    assert all({"ts", "level", "event"} <= set(line) for line in lines)
    events = [line["event"] for line in lines]
    assert events[0] == "daemon.started" and events[-1] == "daemon.stopped"
    stopping = next(line for line in lines if line["event"] == "daemon.stopping")
    assert stopping["signal"] == "SIGTERM"
    finished = next(line for line in lines if line["event"] == "stage.finished")
    assert finished["stage"] == "collect" and finished["run_id"] >= 1
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM store_lock")).scalar() == 0
        statuses = set(conn.execute(sa.text("SELECT status FROM run")).scalars())
    engine.dispose()
    assert statuses <= {"ok", "aborted"} and "ok" in statuses  # none left running
    textfile = samples((tmp_path / "metrics.prom").read_text())  # [daemon] metrics_textfile
    assert textfile['optimizer_runs_total{status="ok"}'] >= 1
    assert not list(tmp_path.glob("metrics.prom.*"))  # the atomic write left no temp file


def test_sigterm_mid_stage_finishes_it_records_the_rest_aborted_and_exits_0(
    setup: tuple[str, Path], tmp_path: Path
) -> None:
    db, config = setup
    for f in range(2):  # enough rows that collect is still running when the signal lands
        write_focus_csv(tmp_path / "exports" / f"big{f}.csv", recent_rows(5_000, f"b{f}"))
    config.write_text(config.read_text().replace('["collect"]', '["collect", "forecast"]'))
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer.cli", "--db", db, "--config", str(config), "daemon",
         "--every", "0.2", "--metrics-port", "0", "--log-format", "text"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    engine = sa.create_engine(f"sqlite:///{db}")
    deadline = time.monotonic() + 240  # a guard against a hung test, not a timed assertion
    try:
        while True:
            assert proc.poll() is None and time.monotonic() < deadline
            with engine.connect() as conn:
                raw = conn.execute(sa.text("SELECT stages FROM run WHERE id = 1")).scalar()
            if raw and json.loads(raw) and json.loads(raw)[0]["status"] == "running":
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
    finally:
        _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    with engine.connect() as conn:
        status, raw = conn.execute(sa.text("SELECT status, stages FROM run WHERE id = 1")).one()
        runs = conn.execute(sa.text("SELECT count(*) FROM run")).scalar()
        lock = conn.execute(sa.text("SELECT count(*) FROM store_lock")).scalar()
        rows = conn.execute(sa.text("SELECT count(*) FROM cost_record")).scalar()
    engine.dispose()
    collect, forecast = json.loads(raw)
    assert status == "aborted" and runs == 1 and lock == 0
    assert collect["status"] == "ok" and rows == ROWS + 10_000  # the stage finished
    assert forecast["status"] == "aborted" and "shutdown requested" in forecast["detail"]
    assert "daemon.stopping signal=SIGTERM" in err and "daemon.stopped exit_code=0" in err


def test_once_runs_one_tick_writes_the_textfile_and_exits(
    setup: tuple[str, Path], tmp_path: Path
) -> None:
    db, config = setup
    out = run_cli(
        "--db",
        db,
        "--config",
        str(config),
        "daemon",
        "--once",
        "--every",
        "0.1",
        "--metrics-port",
        "0",
        "--metrics-textfile",
        str(tmp_path / "m.prom"),
        "--log-format",
        "text",
    )
    assert out.returncode == 0, out.stderr
    assert "run.finished" in out.stderr and "status=ok" in out.stderr
    written = samples((tmp_path / "m.prom").read_text())
    assert written['optimizer_runs_total{status="ok"}'] == 1
    assert written["optimizer_last_run_rows_collected"] == ROWS


def test_a_tick_finding_the_lock_held_is_skipped_and_counted(
    sqlite_engine: Engine, setup: tuple[str, Path], tmp_path: Path
) -> None:
    config = load_config(setup[1])
    textfile = tmp_path / "tick.prom"
    plan = Plan(Schedule("0 2 * * *"), ("collect",), metrics_textfile=str(textfile))
    daemon = Daemon(sqlite_engine, lambda: config, plan, threading.Event())
    with hold(sqlite_engine, "run"):
        assert daemon.tick() == 75
    assert samples(textfile.read_text())['optimizer_runs_total{status="lock_held"}'] == 1
    assert daemon.tick() == 0
    assert samples(textfile.read_text())['optimizer_last_run_status{status="ok"}'] == 1


def test_savings_are_the_latest_plans(sqlite_engine: Engine) -> None:
    assert latest_plan(sqlite_engine) == (Decimal(0), 0)
    with Session(sqlite_engine) as session:
        for n, savings in enumerate([["5.25"], ["10.50", "0.125"]]):
            plan = PlanRow(created_at=utcnow(), kind="placement")
            session.add(plan)
            session.flush()
            for i, s in enumerate(savings):
                session.add(
                    Recommendation(
                        plan_id=plan.id,
                        fingerprint=f"{n}-{i}",
                        kind="move",
                        subject=f"wl-{i}",
                        monthly_savings=Decimal(s),
                        one_off_cost=Decimal(0),
                        created_at=utcnow(),
                    )
                )
        session.commit()
    assert latest_plan(sqlite_engine) == (Decimal("10.625"), 2)


def test_bad_schedules_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="not a cron expression"):
        DaemonSettings(schedule="every night")
    assert Config().daemon.schedule == "0 2 * * *" and Config().daemon.metrics_port == 9464
    result = CliRunner().invoke(cli, ["daemon", "--schedule", "61 * * * *"])
    assert getattr(result.exception, "exit_code", None) == 2
    assert "not a cron expression" in str(result.exception)


def test_json_log_lines_carry_the_event_and_its_fields() -> None:
    record = logging.LogRecord(
        "optimizer.run", logging.INFO, __file__, 1, "stage.finished", None, None
    )
    record.fields = {"run_id": 7, "stage": "plan", "level": "spoofed"}
    line = json.loads(JsonFormatter().format(record))
    assert (line["event"], line["level"], line["run_id"], line["stage"]) == (
        "stage.finished",
        "info",
        7,
        "plan",
    )
    assert line["ts"].endswith("+00:00")
