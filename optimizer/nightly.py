"""One nightly run: the `run` lock, the run row, each stage in order, resume after a
crash, the stale-data guard before planning, and a clean stop at a safe point.

The safe points are the boundaries between stages: a stop request (SIGTERM to the
daemon) lets the current stage finish and records the rest as `aborted`; a second
one interrupts the stage itself, which is recorded `aborted` too (its own transaction
rolls back). Either way the run row says so and the lock is released.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from optimizer import run_records
from optimizer.config import Config
from optimizer.freshness import check_fresh
from optimizer.pipeline import BUILT, Hooks, StageResult
from optimizer.run_liveness import Heartbeat, take_run_lock, this_process
from optimizer.run_records import Crashed
from optimizer.stages import NOT_BUILT
from store.errors import OptimizerError
from store.locks import release
from store.types import utcnow

log = logging.getLogger("optimizer.run")

Guard = Callable[[Engine, Config], object]
GUARDS: dict[str, Guard] = {"plan": check_fresh}  # checked just before the stage runs


def note(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One log event; the daemon's JSON formatter prints `fields` as keys."""
    if event == "run.crashed":
        level = logging.WARNING
    log.log(level, event, extra={"fields": fields})


@dataclass(frozen=True)
class RunOptions:
    fresh: bool = False  # redo every stage, even those a crashed run finished today
    allow_stale: bool = False  # plan even on data older than [run] stale_after_hours
    stop: threading.Event | None = None  # set it to stop at the next safe point


@dataclass
class Outcome:
    run_id: int
    status: str  # ok | partial | failed | aborted
    results: list[StageResult]
    seconds: float
    crashed: tuple[Crashed, ...] = ()
    resumed_from: int | None = None
    records: list[dict[str, Any]] = field(default_factory=list)


def stage_record(r: StageResult, started: str = "", finished: str = "") -> dict[str, Any]:
    rec: dict[str, Any] = {
        "name": r.name,
        "status": r.status,
        "seconds": round(r.seconds, 3),
        "detail": r.detail,
        **r.data,
    }
    if started:
        rec["started_at"], rec["finished_at"] = started, finished
    return rec


def overall(results: list[StageResult], stopped: bool) -> str:
    statuses = {r.status for r in results}
    if stopped or "aborted" in statuses:
        return "aborted"
    return "failed" if "failed" in statuses else ("partial" if "partial" in statuses else "ok")


def _skipped(name: str, where: dict[str, Any]) -> StageResult:
    at = str(where["done_at"])[11:16]
    return StageResult(
        name,
        "skipped",
        detail=f"done in run {where['done_in_run']} at {at} UTC (resumed; --fresh redoes it)",
        data=dict(where),
    )


def _one(engine: Engine, config: Config, name: str, hooks: Hooks, opts: RunOptions) -> StageResult:
    fn = BUILT.get(name)
    if fn is None:
        return StageResult(name, "not_built", detail=f"arrives with issue {NOT_BUILT[name]}")
    started = time.perf_counter()
    try:
        guard = GUARDS.get(name)
        if guard is not None and not opts.allow_stale:
            guard(engine, config)
        result = fn(engine, config, hooks)
    except OptimizerError as exc:
        result = StageResult(name, "failed", detail=exc.message, exit_code=exc.exit_code)
        if exc.fix:
            result.data["fix"] = exc.fix
    except Exception as exc:  # a bug or a lost store: this stage failed, the run goes on
        log.exception("stage.error", extra={"fields": {"stage": name}})
        detail = f"unexpected error: {type(exc).__name__}: {exc}"
        result = StageResult(name, "failed", detail=detail, exit_code=1)
        result.data["fix"] = "run again with --debug for the traceback, and report it as a bug"
    result.seconds = time.perf_counter() - started
    return result


def run_nightly(
    engine: Engine,
    config: Config,
    stages: tuple[str, ...],
    options: RunOptions | None = None,
    on_stage: Callable[[StageResult], None] | None = None,
    hooks: Hooks | None = None,
    on_start: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Run `stages` once under the `run` lock; raises LockHeld if another run holds it."""
    opts, hooks = options or RunOptions(), hooks or Hooks()
    began = time.perf_counter()
    lease = take_run_lock(engine, config.run.lock_ttl_seconds)
    try:
        begun = run_records.start(engine, this_process(), stages, opts.fresh)
        ctx = {"run_id": begun.run_id}
        for dead in begun.crashed:
            note("run.crashed", **ctx, crashed_run=dead.run_id, reason=dead.reason)
        note("run.started", **ctx, resumed_from=begun.resumed_from, skipped=sorted(begun.done))
        out = Outcome(begun.run_id, "running", [], 0.0, begun.crashed, begun.resumed_from)
        if on_start:
            on_start(out)
        every = config.run.heartbeat_seconds
        beat = Heartbeat(lease, every, lambda: run_records.beat(engine, begun.run_id))
        with beat:
            _stages(engine, config, stages, opts, hooks, on_stage, out, begun.done, beat)
        out.seconds = time.perf_counter() - began
        error = "; ".join(f"{r.name}: {r.detail}" for r in out.results if r.status == "failed")
        run_records.finish(engine, out.run_id, out.status, out.records, error or None)
        note("run.finished", **ctx, status=out.status, seconds=round(out.seconds, 3))
        return out
    finally:
        release(lease)


def _stages(
    engine: Engine,
    config: Config,
    stages: tuple[str, ...],
    opts: RunOptions,
    hooks: Hooks,
    on_stage: Callable[[StageResult], None] | None,
    out: Outcome,
    done: dict[str, dict[str, Any]],
    beat: Heartbeat,
) -> None:
    stopped = False
    resuming = bool(done)  # skip done stages only until the first one that runs again
    for name in stages:
        fields: dict[str, Any] = {"run_id": out.run_id, "stage": name}
        if stopped or (opts.stop is not None and opts.stop.is_set()) or beat.lost:
            stopped = True
            why = "the run lock was lost" if beat.lost else "shutdown requested"
            result = StageResult(name, "aborted", detail=f"not started: {why}")
            out.results.append(result)
            out.records.append(stage_record(result))
            if on_stage:
                on_stage(result)
            continue
        resuming = resuming and name in done
        if resuming:
            result = _skipped(name, done[name])
            out.results.append(result)
            out.records.append(stage_record(result))
            run_records.write_stages(engine, out.run_id, out.records)
            note("stage.skipped", **fields, **done[name])
            if on_stage:
                on_stage(result)
            continue
        started = utcnow().isoformat()
        running = {"name": name, "status": "running", "started_at": started}
        run_records.write_stages(engine, out.run_id, [*out.records, running])
        note("stage.started", **fields)
        try:
            result = _one(engine, config, name, hooks, opts)
        except BaseException:  # a second signal (KeyboardInterrupt): record it, then go
            result = StageResult(name, "aborted", detail="interrupted mid-stage")
            out.results.append(result)
            out.records.append(stage_record(result, started, utcnow().isoformat()))
            out.status = "aborted"
            run_records.finish(engine, out.run_id, "aborted", out.records, "interrupted")
            raise
        out.results.append(result)
        out.records.append(stage_record(result, started, utcnow().isoformat()))
        run_records.write_stages(engine, out.run_id, out.records)
        seconds = round(result.seconds, 3)
        level = logging.INFO if result.status in ("ok", "not_built") else logging.WARNING
        note(
            "stage.finished",
            level,
            **fields,
            status=result.status,
            seconds=seconds,
            detail=result.detail,
        )
        if on_stage:
            on_stage(result)
    out.status = overall(out.results, stopped)
