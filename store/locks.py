"""Named locks in the store: only one `apply` (or one `run`) at a time, across machines.

A lock is a `store_lock` row: its primary key refuses a second holder, on SQLite and
PostgreSQL alike. On PostgreSQL the holder also keeps a session-level advisory lock on
its own connection, so a holder that dies (kill -9, a lost machine) releases it at once
when its connection drops. On SQLite a dead holder's row stays until `expires_at`;
a live holder renews it (`Lease.renew`) while it works.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.errors import StoreError
from store.models import StoreLock
from store.types import utcnow

TABLE = StoreLock.__table__  # type: ignore[attr-defined]


class LockHeld(StoreError):
    """Another process holds the lock."""

    exit_code = 75  # EX_TEMPFAIL: try again once the holder is done
    kind = "lock held"


def holder_id() -> str:
    """host:pid:random, so two processes (or two threads' leases) never look alike."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock, from the lock's name."""
    digest = hashlib.sha256(f"optimizer:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class Lease:
    engine: Engine
    name: str
    holder: str
    ttl: timedelta
    expires_at: datetime
    _pg: Connection | None = field(default=None, repr=False)

    def renew(self) -> None:
        """Push expiry out by the ttl; refuses if the row is no longer ours."""
        expires = utcnow() + self.ttl
        with self.engine.begin() as conn:
            done = conn.execute(
                TABLE.update()
                .where(sa.and_(TABLE.c.name == self.name, TABLE.c.holder == self.holder))
                .values(expires_at=expires)
            ).rowcount
        if not done:
            raise LockHeld(
                f"the {self.name!r} lock was taken over while this process held it",
                fix="another process found it expired: raise the ttl, or check the clock",
            )
        self.expires_at = expires


def _holder_row(conn: Connection, name: str) -> sa.Row[tuple[object, ...]] | None:
    return conn.execute(sa.select(TABLE).where(TABLE.c.name == name)).first()


def _refuse(name: str, holder: object, acquired: object, expires: object) -> LockHeld:
    return LockHeld(
        f"the {name!r} lock is held by {holder} since {acquired} (expires {expires})",
        where="store_lock",
        fix="wait for that run to finish; if its process is gone, the lock frees itself "
        f"at its expiry, or run `optimizer unlock {name} --yes` once you are sure",
    )


def acquire(engine: Engine, name: str, ttl_s: float = 600.0, wait_s: float = 0.0) -> Lease:
    """Take the lock or raise LockHeld naming who holds it; `wait_s` retries that long
    (a dead holder's PostgreSQL backend takes a moment to notice its client is gone)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return _acquire_once(engine, name, ttl_s)
        except LockHeld:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _acquire_once(engine: Engine, name: str, ttl_s: float) -> Lease:
    holder, ttl = holder_id(), timedelta(seconds=ttl_s)
    pg = None
    if engine.dialect.name == "postgresql":
        pg = engine.connect()
        got = pg.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(name)})
        if not got.scalar():
            with engine.connect() as conn:
                row = _holder_row(conn, name)
            pg.close()
            if row is None:
                raise _refuse(name, "a process that has not written its row yet", "-", "-")
            raise _refuse(name, row.holder, row.acquired_at, row.expires_at)
        pg.commit()  # the session-level lock outlives this implicit transaction
    now = utcnow()
    try:
        with engine.begin() as conn:
            row = _holder_row(conn, name)
            if row is not None:
                # PostgreSQL: we hold the advisory lock, so the row's holder is dead.
                if pg is None and row.expires_at > now:
                    raise _refuse(name, row.holder, row.acquired_at, row.expires_at)
                conn.execute(
                    TABLE.delete().where(
                        sa.and_(TABLE.c.name == name, TABLE.c.holder == row.holder)
                    )
                )
            conn.execute(
                TABLE.insert().values(
                    name=name, holder=holder, acquired_at=now, expires_at=now + ttl
                )
            )
    except sa.exc.IntegrityError as exc:  # another process inserted first
        if pg is not None:
            _unlock(pg, name)
        with engine.connect() as conn:
            row = _holder_row(conn, name)
        who = row.holder if row else "another process"
        raise _refuse(name, who, row.acquired_at if row else "-", "-") from exc
    except BaseException:
        if pg is not None:
            _unlock(pg, name)
        raise
    return Lease(engine, name, holder, ttl, now + ttl, pg)


def release(lease: Lease) -> None:
    """Delete our row (only ours) and drop the advisory lock with its connection."""
    try:
        with lease.engine.begin() as conn:
            conn.execute(
                TABLE.delete().where(
                    sa.and_(TABLE.c.name == lease.name, TABLE.c.holder == lease.holder)
                )
            )
    finally:
        if lease._pg is not None:
            _unlock(lease._pg, lease.name)


def _unlock(pg: Connection, name: str) -> None:
    """Pooled connections outlive close(): the advisory lock is dropped explicitly."""
    try:
        if not pg.invalidated:
            pg.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(name)})
            pg.commit()
    finally:
        pg.close()


def force_release(engine: Engine, name: str) -> str | None:
    """`optimizer unlock NAME`: drop whoever's row; returns the holder it dropped."""
    with engine.begin() as conn:
        row = _holder_row(conn, name)
        conn.execute(TABLE.delete().where(TABLE.c.name == name))
    return None if row is None else str(row.holder)


@contextmanager
def hold(engine: Engine, name: str, ttl_s: float = 600.0, wait_s: float = 0.0) -> Iterator[Lease]:
    lease = acquire(engine, name, ttl_s, wait_s)
    try:
        yield lease
    finally:
        release(lease)
