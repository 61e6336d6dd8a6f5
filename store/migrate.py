"""Create or upgrade the store's schema with Alembic, from the first table on."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from store.engine import redacted
from store.errors import StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade in place; returns (revision before, revision after)."""
    before = current_revision(engine)
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return before, head_revision() if revision == "head" else revision


def require_current(engine: Engine) -> None:
    """Refuse to work on a store that was never initialised or is behind the code."""
    try:
        rev = current_revision(engine)
    except Exception as exc:  # the driver's own error says why (auth, host, file)
        raise StoreError(
            f"cannot open the store at {redacted(str(engine.url))}: {exc}",
            fix="check --db / OPTIMIZER_DB_URL, that the server is running and the "
            "credentials are right",
        ) from exc
    head = head_revision()
    if rev is None:
        raise StoreError(
            f"the store at {redacted(str(engine.url))} has not been initialised",
            fix="run `optimizer init` (or `optimizer demo` for the demo estate)",
        )
    if rev != head:
        raise StoreError(
            f"the store is at schema revision {rev}, this optimizer needs {head}",
            fix="run `optimizer init` to upgrade it in place (history is kept)",
        )
