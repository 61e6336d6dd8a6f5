"""Engine and session factory: where the store lives and how we talk to it."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.errors import StoreError

ENV_DB_URL = "OPTIMIZER_DB_URL"


def default_db_path() -> Path:
    """`$XDG_DATA_HOME/optimizer/optimizer.db`, i.e. `~/.local/share/optimizer/optimizer.db`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "optimizer" / "optimizer.db"


def resolve_url(url: str | None = None) -> str:
    """An explicit URL wins, then `OPTIMIZER_DB_URL`, then the default SQLite file."""
    chosen = url or os.environ.get(ENV_DB_URL)
    if chosen:
        if "://" not in chosen:  # a bare path means a SQLite file
            return f"sqlite:///{Path(chosen).expanduser().resolve()}"
        return chosen
    return f"sqlite:///{default_db_path()}"


class _DecimalSum:
    """Exact SUM for Money text columns on SQLite (see store.types.money_sum)."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is None:
            return
        try:
            dec = Decimal(value) if isinstance(value, str) else Decimal(str(value))
        except InvalidOperation:
            return
        self.total = dec if self.total is None else self.total + dec

    def finalize(self) -> str | None:
        return None if self.total is None else format(self.total, "f")


def _configure_sqlite(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.create_aggregate("decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-32768")  # 32 MiB page cache
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str | None = None, *, create_dir: bool = True) -> Engine:
    """Build an engine for `url` (resolved as in `resolve_url`)."""
    resolved = resolve_url(url)
    try:
        parsed = sa.make_url(resolved)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise StoreError(
            f"cannot parse database URL {resolved!r}",
            fix="pass a SQLAlchemy URL such as sqlite:///path/to/optimizer.db or "
            "postgresql+psycopg://user@host:5432/db",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and create_dir:
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(resolved, connect_args={"timeout": 30})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    try:
        return sa.create_engine(resolved, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the driver for {parsed.drivername} is not installed ({exc.name})",
            fix="pip install 'optimizer[postgres]' for PostgreSQL",
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise StoreError(
            f"unsupported database URL {redacted(resolved)}: {exc}",
            fix="use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB",
        ) from exc


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "<unparseable URL>"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
