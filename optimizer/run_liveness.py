"""Is a run's process alive? The `run` lock, taken over from a dead local holder, and
the heartbeat that renews it (and `run.heartbeat_at`) while the run works.

A holder is named host:pid[:tag]. On the same host a holder whose pid is gone is dead
at once (kill -9, OOM): the next run need not wait for the lock's expiry. On another
host (a Kubernetes pod that was evicted) only the expiry tells, so the ttl is short and
the heartbeat renews it; on PostgreSQL the advisory lock drops with the dead connection.
A dead holder's pid reused by another process reads as alive: the lock then frees at
its expiry, as for another host.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.locks import TABLE as LOCKS
from store.locks import Lease, LockHeld, acquire

LOCK_NAME = "run"
log = logging.getLogger("optimizer.run")
log.addHandler(logging.NullHandler())  # silent unless the daemon sets up its log


def this_process() -> str:
    """host:pid, what `run.host` records."""
    return f"{socket.gethostname()}:{os.getpid()}"


def gone(holder: str) -> bool:
    """True only when `holder` (host:pid[:tag]) ran on this host and its pid is gone.
    A holder on another host cannot be checked from here: False (not known dead)."""
    parts = holder.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def take_run_lock(engine: Engine, ttl_s: float) -> Lease:
    """The `run` lock; a holder on this host whose process is gone is dropped first
    (only that holder's row, so two runs starting at once cannot both take it)."""
    wait = 5.0 if engine.dialect.name == "postgresql" else 0.0
    try:
        return acquire(engine, LOCK_NAME, ttl_s=ttl_s, wait_s=wait)
    except LockHeld:
        with engine.connect() as conn:
            row = conn.execute(sa.select(LOCKS).where(LOCKS.c.name == LOCK_NAME)).first()
        if row is None or not gone(str(row.holder)):
            raise
        with engine.begin() as conn:
            conn.execute(
                LOCKS.delete().where(
                    sa.and_(LOCKS.c.name == LOCK_NAME, LOCKS.c.holder == row.holder)
                )
            )
        log.info("lock.taken_over", extra={"fields": {"dead_holder": str(row.holder)}})
        return acquire(engine, LOCK_NAME, ttl_s=ttl_s, wait_s=wait)


class Heartbeat:
    """A daemon thread that renews the lease and calls `beat` every `every_s` seconds.

    A beat that fails because the store is busy (a long write transaction on SQLite)
    is retried at the next one; a lease taken over by another process sets `lost`,
    and the run stops at its next safe point.
    """

    def __init__(self, lease: Lease, every_s: float, beat: Callable[[], None]) -> None:
        self.lease, self.every_s, self.beat = lease, every_s, beat
        self.lost: LockHeld | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 35)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.lease.renew()
                self.beat()
            except LockHeld as exc:
                self.lost = exc
                log.error("lock.lost", extra={"fields": {"error": exc.message}})
                return
            except sa.exc.OperationalError as exc:  # busy store: the next beat retries
                log.warning("heartbeat.retry", extra={"fields": {"error": str(exc)[:200]}})
