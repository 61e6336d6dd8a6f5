"""The `run` row of a nightly run: written when it starts, after each stage (its own
transaction, so a crash keeps every finished stage), and when it ends.

Starting also settles the past: the caller holds the `run` lock, so any other nightly
run still marked `running` is dead; it is marked `crashed`. The newest earlier run, if
it crashed or was aborted, is what this one resumes: the leading stages it finished ok
today are not redone (`done_stages`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from optimizer.audit_events import record
from optimizer.run_liveness import gone
from store.models import Run
from store.types import utcnow

RUN: sa.Table = Run.__table__  # type: ignore[attr-defined]
KIND = "nightly"
RESUMABLE = ("crashed", "aborted")


@dataclass(frozen=True)
class Crashed:
    """An earlier run found dead at start, and why we say so."""

    run_id: int
    host: str | None
    reason: str


@dataclass(frozen=True)
class Start:
    run_id: int
    crashed: tuple[Crashed, ...]
    resumed_from: int | None
    done: dict[str, dict[str, Any]]  # stage → where and when it was done


def _why(row: sa.Row[Any]) -> str:
    if row.host and gone(row.host):
        return f"its process {row.host} is gone"
    beat = row.heartbeat_at or row.started_at
    return f"no heartbeat since {beat:%Y-%m-%d %H:%M:%S} UTC and the run lock is free"


def _mark_crashed(conn: Connection) -> list[Crashed]:
    rows = conn.execute(
        sa.select(RUN).where(sa.and_(RUN.c.kind == KIND, RUN.c.status == "running"))
    ).all()
    found = []
    for row in rows:
        why = _why(row)
        conn.execute(
            RUN.update()
            .where(RUN.c.id == row.id)
            .values(status="crashed", finished_at=utcnow(), error=f"crashed: {why}")
        )
        record(conn, "run", f"run:{row.id}", {"status": "crashed", "reason": why})
        found.append(Crashed(int(row.id), row.host, why))
    return found


def done_stages(row: sa.Row[Any] | None, today: str) -> dict[str, dict[str, Any]]:
    """The leading stages of `row` done ok on `today` (UTC date, ISO): from the first one
    that was not, every later stage runs again, since it may read what that one writes."""
    done: dict[str, dict[str, Any]] = {}
    for stage in (row.stages or []) if row is not None else []:
        if stage.get("status") == "ok":
            where, when = int(row.id), str(stage.get("finished_at") or "")  # type: ignore[union-attr]
        elif stage.get("status") == "skipped" and stage.get("done_in_run"):
            where, when = int(stage["done_in_run"]), str(stage.get("done_at") or "")
        else:
            break
        if not when.startswith(today):
            break
        done[str(stage["name"])] = {"done_in_run": where, "done_at": when}
    return done


def _leading(done: dict[str, dict[str, Any]], stages: tuple[str, ...]) -> dict[str, Any]:
    """The done stages that lead this run's own stages: once one runs, the rest do too."""
    lead: dict[str, Any] = {}
    for name in stages:
        if name not in done:
            break
        lead[name] = done[name]
    return lead


def start(engine: Engine, host: str, stages: tuple[str, ...], fresh: bool) -> Start:
    """Mark dead runs crashed, pick what to resume, and insert this run's row."""
    now = utcnow()
    with engine.begin() as conn:
        crashed = _mark_crashed(conn)
        last = conn.execute(
            sa.select(RUN).where(RUN.c.kind == KIND).order_by(RUN.c.id.desc()).limit(1)
        ).first()
        resumable = last is not None and last.status in RESUMABLE and not fresh
        done = done_stages(last, now.date().isoformat()) if resumable else {}
        done = _leading(done, stages)
        resumed_from = int(last.id) if resumable and last is not None else None
        inserted = conn.execute(
            sa.insert(RUN).values(
                kind=KIND,
                started_at=now,
                status="running",
                host=host,
                heartbeat_at=now,
                resumed_from=resumed_from,
                stages=[],
            )
        ).inserted_primary_key
        assert inserted is not None
        run_id = int(inserted[0])
        if resumed_from is not None:
            record(
                conn,
                "run",
                f"run:{run_id}",
                {"status": "resumed", "resumed_from": resumed_from, "skipped": sorted(done)},
            )
    return Start(run_id, tuple(crashed), resumed_from, done)


def write_stages(engine: Engine, run_id: int, stages: list[dict[str, Any]]) -> None:
    """The stage records so far, and a heartbeat: one short transaction."""
    with engine.begin() as conn:
        conn.execute(
            RUN.update().where(RUN.c.id == run_id).values(stages=stages, heartbeat_at=utcnow())
        )


def beat(engine: Engine, run_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(RUN.update().where(RUN.c.id == run_id).values(heartbeat_at=utcnow()))


def finish(
    engine: Engine, run_id: int, status: str, stages: list[dict[str, Any]], error: str | None
) -> None:
    """The run's outcome and its audit event, in one transaction."""
    with engine.begin() as conn:
        conn.execute(
            RUN.update()
            .where(RUN.c.id == run_id)
            .values(
                status=status,
                finished_at=utcnow(),
                heartbeat_at=utcnow(),
                stages=stages,
                error=error,
            )
        )
        summary = {s["name"]: s["status"] for s in stages}
        record(conn, "run", f"run:{run_id}", {"status": status, "stages": summary})
