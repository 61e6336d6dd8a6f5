"""Store locks: one holder at a time, a dead holder's lock is taken over, on both stores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.audit import events
from store.engine import make_engine
from store.locks import TABLE, LockHeld, acquire, force_release, hold, release
from store.types import utcnow
from tests.conftest import run_cli


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def test_second_holder_is_refused_with_who_holds_it(engine: Engine) -> None:
    with hold(engine, "apply") as lease:
        with pytest.raises(LockHeld) as err:
            acquire(engine, "apply")
        assert lease.holder in err.value.message or engine.dialect.name == "postgresql"
        assert "unlock" in (err.value.fix or "")
        with hold(engine, "run"):  # another name is another lock
            pass
    with hold(engine, "apply"):  # released: free again
        pass


def test_renew_moves_expiry_and_release_only_drops_our_row(engine: Engine) -> None:
    lease = acquire(engine, "apply", ttl_s=30)
    first = lease.expires_at
    lease.renew()
    assert lease.expires_at >= first
    release(lease)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(TABLE)).scalar() == 0


def test_an_expired_row_of_a_dead_holder_is_taken_over(sqlite_engine: Engine) -> None:
    past = utcnow() - timedelta(hours=1)
    with sqlite_engine.begin() as conn:
        conn.execute(
            TABLE.insert().values(
                name="apply", holder="gone:1:x", acquired_at=past, expires_at=past
            )
        )
    with hold(sqlite_engine, "apply") as lease:
        assert lease.holder != "gone:1:x"


def test_postgres_frees_the_lock_when_the_holder_connection_dies(pg_engine: Engine) -> None:
    """kill -9 of a holder closes its connection: the advisory lock goes with it, and the
    row it left behind (not expired) no longer blocks."""
    lease = acquire(pg_engine, "apply", ttl_s=3600)
    assert lease._pg is not None
    lease._pg.invalidate()  # the connection dies without releasing anything
    lease._pg.close()
    with hold(pg_engine, "apply", wait_s=10) as again:
        assert again.holder != lease.holder
    with pytest.raises(LockHeld):
        lease.renew()


def test_force_release_names_the_holder(sqlite_engine: Engine) -> None:
    lease = acquire(sqlite_engine, "apply")
    assert force_release(sqlite_engine, "apply") == lease.holder
    assert force_release(sqlite_engine, "apply") is None


def test_unlock_command_needs_yes_and_is_audited(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    assert run_cli("--db", db, "init").returncode == 0
    engine = make_engine(f"sqlite:///{db}")
    lease = acquire(engine, "apply")
    refused = run_cli("--db", db, "unlock", "apply")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    done = run_cli("--db", db, "--json", "unlock", "apply", "--yes")
    assert done.returncode == 0 and lease.holder in done.stdout
    with engine.connect() as conn:
        assert [e.action for e in events(conn)][-1] == "unlock"
