"""Which approved tiering recommendations one apply run takes, within its limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from optimizer.apply.changes import TieringChange, from_recommendation
from optimizer.apply.settings import ApplySettings
from store.errors import ConfigError
from store.models import Recommendation, StorageGroup


@dataclass(frozen=True)
class Selection:
    taken: tuple[TieringChange, ...]
    deferred: tuple[tuple[TieringChange, str], ...]  # over a limit: stays approved


def approved_changes(engine: Engine, ids: Sequence[int] = ()) -> list[TieringChange]:
    """Approved tiering recommendations, largest saving first. Named ids must all be
    approved tiering ones, or nothing is taken (the error lists why)."""
    with Session(engine) as session:
        query = select(Recommendation).where(Recommendation.kind == "tiering")
        if ids:
            query = query.where(Recommendation.id.in_(sorted(set(ids))))  # type: ignore[union-attr]
        else:
            query = query.where(Recommendation.status == "approved")
        # Money is text on SQLite: sorted here as Decimal, largest saving first.
        recs = sorted(session.exec(query), key=lambda r: (-r.monthly_savings, r.id or 0))
        if ids:
            _check_named(engine, ids, recs)
        names = {r.subject for r in recs}
        groups = {
            g.name: g
            for g in session.exec(select(StorageGroup).where(StorageGroup.name.in_(names)))  # type: ignore[attr-defined]
        }
        return [from_recommendation(r, groups.get(r.subject)) for r in recs]


def _check_named(engine: Engine, ids: Sequence[int], recs: list[Recommendation]) -> None:
    found = {r.id: r for r in recs}
    problems = []
    for i in sorted(set(ids)):
        rec = found.get(i)
        if rec is None:
            problems.append(f"#{i} is not a tiering recommendation")
        elif rec.status != "approved":
            problems.append(f"#{i} is {rec.status}")
    if problems:
        raise ConfigError(
            "cannot apply: " + "; ".join(problems) + " (nothing was applied)",
            fix="only approved tiering recommendations are applied: "
            "`optimizer recommendations approve ID --by NAME` first "
            "(compute moves are recommendations only)",
        )


def within_limits(changes: list[TieringChange], settings: ApplySettings) -> Selection:
    """Largest saving first, until `max_changes` or `max_bytes` would be passed; a
    change bigger than `max_bytes` alone is deferred too (the limit says why)."""
    taken: list[TieringChange] = []
    deferred: list[tuple[TieringChange, str]] = []
    total = 0
    for change in changes:
        if len(taken) >= settings.max_changes:
            deferred.append((change, f"max_changes {settings.max_changes} reached"))
        elif total + change.bytes > settings.max_bytes:
            deferred.append(
                (change, f"max_bytes {settings.max_bytes:,}: {total + change.bytes:,} would move")
            )
        else:
            taken.append(change)
            total += change.bytes
    return Selection(tuple(taken), tuple(deferred))
