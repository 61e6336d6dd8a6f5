"""Opt-in live suite (issue #5 §4): the collectors against real accounts.

Each cloud's file runs only when its variable is set (`OPTIMIZER_LIVE_AWS=1`,
`OPTIMIZER_LIVE_AZURE=1`, `OPTIMIZER_LIVE_GCP=1`) and otherwise skips with the reason;
credentials come from each SDK's own chain, as in production. See docs/collectors-*.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from collectors.cloud import CloudCollector, CollectSummary
from store.engine import make_engine
from store.migrate import upgrade

ACCEPTED = {"ok", "no_data"}


def check_and_collect(
    collector: CloudCollector, tmp_path: Path
) -> tuple[Engine, CollectSummary, date]:
    """The part every cloud's live test shares: `check()` passes, then a first collect
    into a fresh SQLite store passes (printed: `pytest -s` shows what the account holds
    and the calls it cost)."""
    check = collector.check()
    assert check.status in ACCEPTED, check.as_dict()
    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(engine)
    today = datetime.now(UTC).date()
    first = collector.collect(engine, today)
    print(first.as_dict())
    assert first.status in ACCEPTED, first.as_dict()
    return engine, first, today
