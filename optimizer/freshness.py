"""The stale-data guard: the nightly plan refuses to run on data older than
`[run] stale_after_hours`, naming the source, how old its newest data is, and the fix.

A source's newest data is the latest charge period end of the cost records it last
brought (`source_state.period_end`, kept by every collector) and the latest usage
sample it wrote. Age is measured from the data's own time, not from when it was
collected: an export that stopped moving (the same file every night) is stale too.
With `[[sources]]` configured only those are checked (a FOCUS source's files are keys
`<name>:<file>`); without any, every source in the store is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.config import Config
from store.errors import OptimizerError
from store.models import SourceState, UsageSample
from store.types import utcnow

STATES: sa.Table = SourceState.__table__  # type: ignore[attr-defined]
SAMPLES: sa.Table = UsageSample.__table__  # type: ignore[attr-defined]


class StaleData(OptimizerError):
    """A source's newest data is older than the threshold: planning on it would
    recommend moves for a past that may have changed."""

    exit_code = 3
    kind = "stale data"


@dataclass(frozen=True)
class SourceAge:
    source: str
    kind: str  # cost records | usage samples
    newest: datetime
    hours: float


def _owner(key: str, names: list[str]) -> str | None:
    """The configured source a store key belongs to; every key when none is configured."""
    if not names:
        return key
    for name in names:
        if key == name or key.startswith(name + ":"):
            return name
    return None


def newest_data(engine: Engine, config: Config, now: datetime | None = None) -> list[SourceAge]:
    """Per source and kind of data, its newest point and its age in hours."""
    now = now or utcnow()
    names = [s.name for s in config.sources]
    with engine.connect() as conn:
        costs = conn.execute(
            sa.select(STATES.c.source_key, STATES.c.period_end).where(
                STATES.c.period_end.is_not(None)
            )
        ).all()
        usage = conn.execute(
            sa.select(SAMPLES.c.source_key, sa.func.max(SAMPLES.c.ts)).group_by(
                SAMPLES.c.source_key
            )
        ).all()
    newest: dict[tuple[str, str], datetime] = {}
    for kind, rows in (("cost records", costs), ("usage samples", usage)):
        for key, ts in rows:
            owner = _owner(str(key or "(no source key)"), names)
            if owner is None or ts is None:
                continue
            if (owner, kind) not in newest or ts > newest[(owner, kind)]:
                newest[(owner, kind)] = ts
    return [
        SourceAge(source, kind, ts, (now - ts).total_seconds() / 3600)
        for (source, kind), ts in sorted(newest.items())
    ]


def check_fresh(engine: Engine, config: Config) -> list[SourceAge]:
    """Raise StaleData naming every stale source; returns the ages otherwise."""
    limit = config.run.stale_after_hours
    ages = newest_data(engine, config)
    stale = [a for a in ages if a.hours > limit]
    if stale:
        listed = "; ".join(
            f"{a.source} ({a.kind}): newest {a.newest:%Y-%m-%d %H:%M} UTC, {a.hours:,.0f} h old"
            for a in stale
        )
        raise StaleData(
            f"refusing to plan on stale data, older than {limit:g} h: {listed}",
            where="[run] stale_after_hours in optimizer.toml",
            fix="re-collect the source(s) named (`optimizer run --stages collect` or "
            "`optimizer sources test` to see why they stopped), or raise "
            "[run] stale_after_hours, or plan anyway with `optimizer run --allow-stale`",
        )
    return ages
