"""The daemon's loop: sleep until the schedule fires, run the nightly stages, update
the metrics, and again, until a stop is requested (SIGTERM or SIGINT).

The config file is read again at each tick, so a changed optimizer.toml applies to the
next run without a restart (a broken one skips the tick, logged, and counts as an error).
A tick that finds the `run` lock held (a cron run, another daemon) is skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from optimizer.config import Config
from optimizer.daemon.metrics import Metrics
from optimizer.daemon.schedule import Schedule
from optimizer.nightly import RunOptions, note, run_nightly
from store.errors import OptimizerError
from store.locks import LockHeld
from store.types import utcnow

log = logging.getLogger("optimizer.daemon")


@dataclass(frozen=True)
class Plan:
    """What the daemon does at each tick, and where its metrics go."""

    schedule: Schedule
    stages: tuple[str, ...]
    once: bool = False
    metrics_port: int = 0
    metrics_bind: str = "0.0.0.0"
    metrics_textfile: str | None = None


class Daemon:
    def __init__(
        self,
        engine: Engine,
        load: Callable[[], Config],
        plan: Plan,
        stop: threading.Event,
    ) -> None:
        self.engine, self.load, self.plan, self.stop = engine, load, plan, stop
        self.metrics = Metrics()

    def run(self) -> int:
        """Loop until stopped; with `once`, one tick. Returns the exit code."""
        plan = self.plan
        server = (
            self.metrics.serve(plan.metrics_port, plan.metrics_bind) if plan.metrics_port else None
        )
        where: dict[str, Any] = {
            "metrics_port": plan.metrics_port or None,
            "textfile": plan.metrics_textfile,
        }
        note("daemon.started", schedule=plan.schedule.describe(), stages=list(plan.stages), **where)
        code = 0
        try:
            while not self.stop.is_set():
                at = plan.schedule.next_after(utcnow())
                self.metrics.next_run.set(at.timestamp())
                self._textfile()
                note("daemon.sleeping", next_run=at.isoformat())
                if self.stop.wait(max(0.0, (at - utcnow()).total_seconds())):
                    break
                code = self.tick()
                if plan.once:
                    break
        finally:
            self._textfile()
            if server is not None:
                server.shutdown()
                server.server_close()
            note("daemon.stopped", exit_code=code if plan.once else 0)
        return code if plan.once else 0

    def tick(self) -> int:
        """One scheduled run; never raises an OptimizerError (logged and counted)."""
        started = utcnow()
        try:
            config = self.load()
            outcome = run_nightly(self.engine, config, self.plan.stages, RunOptions(stop=self.stop))
        except LockHeld as exc:
            note("run.skipped", logging.WARNING, reason=exc.message)
            self.metrics.finished("lock_held", utcnow())
            self._textfile()
            return exc.exit_code
        except OptimizerError as exc:
            note("run.error", logging.ERROR, error=exc.message, fix=exc.fix)
            self.metrics.finished("error", utcnow())
            self._textfile()
            return exc.exit_code
        except Exception as exc:  # the store went away, a bug: logged, and the next tick
            log.exception("run.error", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
            self.metrics.finished("error", utcnow())
            self._textfile()
            return 1
        self.metrics.observe(outcome, self.engine, started, utcnow())
        self._textfile()
        failed = [r for r in outcome.results if r.status in ("failed", "partial")]
        return (failed[0].exit_code or 1) if failed else 0

    def _textfile(self) -> None:
        if self.plan.metrics_textfile:
            try:
                self.metrics.write_textfile(self.plan.metrics_textfile)
            except OSError as exc:
                path = self.plan.metrics_textfile
                note("metrics.textfile_failed", logging.ERROR, path=path, error=str(exc))
