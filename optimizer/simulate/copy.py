"""A private copy of the store for one what-if, so the live store is never written.

SQLite: the sqlite3 online backup API (a consistent snapshot, even while another process
writes; the source is only read). PostgreSQL (or any other server): the tables the
planner reads are streamed through SQLAlchemy into a temporary SQLite store whose schema
comes from the same migrations (`store.migrate.upgrade`). Plans, recommendations and the
audit log are never copied: simulate writes none of them, anywhere.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from store.engine import make_engine
from store.migrate import upgrade

# What build_problem, sizing and tiering read, parents first (foreign keys).
PLANNER_TABLES = (
    "region",
    "latency",
    "egress_price",
    "price_offer",
    "storage_tier_price",
    "workload",
    "storage_group",
    "usage_sample",
    "run",
    "forecast",
    "forecast_point",
)
CHUNK = 5000


def copy_store(live: Engine, dest: Path) -> Engine:
    """A new SQLite store at `dest` holding what the planner reads from `live`."""
    if live.dialect.name == "sqlite":
        with sqlite3.connect(dest) as target:
            raw = live.raw_connection()
            try:
                source = raw.driver_connection
                assert isinstance(source, sqlite3.Connection)
                source.backup(target)
            finally:
                raw.close()
        target.close()
        return make_engine(f"sqlite:///{dest}")
    engine = make_engine(f"sqlite:///{dest}")
    upgrade(engine)
    _copy_tables(live, engine)
    return engine


def clone(copy: Engine, dest: Path) -> Engine:
    """A second copy of a copy (the scenario's, from the baseline's snapshot)."""
    return copy_store(copy, dest)


def _copy_tables(live: Engine, engine: Engine) -> None:
    tables = SQLModel.metadata.tables
    with live.connect() as src, engine.begin() as dst:
        for name in PLANNER_TABLES:
            table = tables[name]
            result = src.execution_options(stream_results=True).execute(sa.select(table))
            while batch := result.fetchmany(CHUNK):
                dst.execute(sa.insert(table), [dict(r._mapping) for r in batch])
