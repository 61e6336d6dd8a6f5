"""Shared fixtures: fresh stores on SQLite and on the PostgreSQL that `make test` starts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.engine import make_engine
from store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("OPTIMIZER_SHARED_DATA", REPO.parent / "shared" / "data"))
PG_URL_ENV = "OPTIMIZER_TEST_PG_URL"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a skip that says why (the suite must pass without it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not found at {SHARED_DATA} (set OPTIMIZER_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_URL_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{PG_URL_ENV} is not set in CI: `make test` must start PostgreSQL (see scripts/pg.sh)",
            pytrace=False,
        )
    return None


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A fresh database on the test PostgreSQL server, dropped afterwards."""
    admin_url = _pg_admin_url()
    if admin_url is None:
        pytest.skip(f"no PostgreSQL: set {PG_URL_ENV} (make test starts one)")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {admin_url} is not reachable: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL at {admin_url} is not reachable")
    engine = make_engine(admin.url.set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real `optimizer` entry point in a subprocess, as users run it."""
    return subprocess.run(
        [sys.executable, "-m", "optimizer.cli", *args],
        capture_output=True, text=True, cwd=cwd or REPO, timeout=300,
    )  # fmt: skip


@pytest.fixture
def demo_store(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    """A small demo estate (40 workloads, 60 days) for tests of explain and planning."""
    from optimizer.demo.build import build_demo

    build_demo(sqlite_engine, tmp_path, workloads=40, storage_groups=4, days=60,
               end=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip
    return sqlite_engine
