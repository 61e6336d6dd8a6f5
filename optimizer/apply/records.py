"""The store side of apply and rollback: `applied_change` rows, recommendation status
and the audit event of each, written together in one transaction per step."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from optimizer.apply.changes import Call, LiveState, TieringChange
from store.audit import append
from store.errors import OptimizerError
from store.models import AppliedChange, Recommendation
from store.types import utcnow

CHANGES = AppliedChange.__table__  # type: ignore[attr-defined]
RECS = Recommendation.__table__  # type: ignore[attr-defined]


def _set_rec(conn: Connection, rec_id: int, status: str, by: str, reason: str | None) -> None:
    conn.execute(
        sa.update(RECS)
        .where(RECS.c.id == rec_id)
        .values(status=status, status_by=by, status_reason=reason, status_at=utcnow())
    )


def _event(change: TieringChange, **extra: Any) -> dict[str, Any]:
    return {
        "provider": change.provider,
        "target": change.target,
        "action": change.action,
        "from": change.current_tier,
        "to": change.tier,
        "bytes": change.bytes,
        **extra,
    }


def start(
    engine: Engine,
    change: TieringChange,
    before: LiveState,
    calls: list[Call],
    apply_id: str,
    by: str,
) -> int:
    """The rollback record, committed before the first call is made."""
    with engine.begin() as conn:
        row = conn.execute(
            CHANGES.insert().values(
                recommendation_id=change.rec_id,
                apply_id=apply_id,
                provider=change.provider,
                target=change.target,
                action=change.action,
                status="applying",
                actor=by,
                before={"change": asdict(change), "state": before.as_dict()},
                calls=[c.as_dict() for c in calls],
                bytes=change.bytes,
                objects=len(before.objects) if change.action == "one-off" else change.objects,
                created_at=utcnow(),
            )
        )
        return int(row.inserted_primary_key[0])  # type: ignore[index]


def applied(
    engine: Engine,
    change: TieringChange,
    change_id: int,
    after: LiveState | None,
    by: str,
    already: bool,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(CHANGES)
            .where(CHANGES.c.id == change_id)
            .values(
                status="applied",
                after=None if after is None else after.as_dict(),
                finished_at=utcnow(),
                error="already in place" if already else None,
            )
        )
        _set_rec(conn, change.rec_id, "applied", by, "already in place" if already else None)
        append(
            conn,
            by,
            "apply",
            f"recommendation:{change.rec_id}",
            _event(change, applied_change=change_id, already=already),
        )


def failed(
    engine: Engine,
    change: TieringChange,
    change_id: int,
    error: OptimizerError,
    done: int,
    undone: str,
    by: str,
) -> None:
    reason = f"{error.kind}: {error.message}"
    with engine.begin() as conn:
        conn.execute(
            sa.update(CHANGES)
            .where(CHANGES.c.id == change_id)
            .values(status="failed", error=f"{reason}; {undone}", finished_at=utcnow())
        )
        _set_rec(conn, change.rec_id, "failed", by, reason)
        append(
            conn,
            by,
            "apply.failed",
            f"recommendation:{change.rec_id}",
            _event(change, applied_change=change_id, error=reason, calls_done=done, undone=undone),
        )


def refused(engine: Engine, change: TieringChange, outcome: Any, apply_id: str, by: str) -> None:
    """A conflict (rules changed since planning), too many objects, or an unreachable
    cloud before any call: nothing changed in the cloud; the recommendation fails with
    the reason so a new plan can propose it again."""
    error = outcome.error
    reason = f"{error.kind}: {error.message}" if error else outcome.detail
    with engine.begin() as conn:
        _set_rec(conn, change.rec_id, "failed", by, reason)
        append(
            conn,
            by,
            f"apply.{outcome.status}",
            f"recommendation:{change.rec_id}",
            _event(change, apply_id=apply_id, error=reason, calls_done=0),
        )


def not_reached(engine: Engine, change: TieringChange, error: OptimizerError, by: str) -> None:
    """The live state could not be read: nothing was called, the recommendation stays
    approved for the next run, and the attempt is in the audit log."""
    with engine.begin() as conn:
        append(
            conn,
            by,
            "apply.failed",
            f"recommendation:{change.rec_id}",
            _event(change, error=f"{error.kind}: {error.message}", calls_done=0, kept="approved"),
        )


UNDOABLE = ("applied", "failed", "applying")  # applying: its process died mid-change


def latest(conn: Connection, rec_id: int) -> Any:
    """The record a rollback undoes: the newest one that made calls (an "already in
    place" re-run records the moved state as its `before`, which restores nothing),
    else the newest one. A closed (rolled back) newest record closes them all."""
    rows = list(
        conn.execute(
            sa.select(CHANGES)
            .where(CHANGES.c.recommendation_id == rec_id)
            .order_by(CHANGES.c.id.desc())
        )
    )
    if not rows or rows[0].status not in UNDOABLE:
        return rows[0] if rows else None
    open_rows = [r for r in rows if r.status in UNDOABLE]
    return next((r for r in open_rows if r.calls), open_rows[0])


def rolled_back(
    engine: Engine,
    change: TieringChange,
    change_id: int,
    calls: list[Call],
    by: str,
    reason: str | None,
) -> None:
    with engine.begin() as conn:
        conn.execute(  # every open record of it: one rollback closes them all
            sa.update(CHANGES)
            .where(
                sa.or_(
                    CHANGES.c.id == change_id,
                    sa.and_(
                        CHANGES.c.recommendation_id == change.rec_id,
                        CHANGES.c.status.in_(UNDOABLE),
                    ),
                )
            )
            .values(status="rolled_back", rolled_back_at=utcnow())
        )
        _set_rec(conn, change.rec_id, "rolled_back", by, reason)
        append(
            conn,
            by,
            "rollback",
            f"recommendation:{change.rec_id}",
            _event(change, applied_change=change_id, calls=len(calls), reason=reason),
        )


def rollback_failed(
    engine: Engine, change: TieringChange, change_id: int, error: OptimizerError, by: str
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(CHANGES)
            .where(CHANGES.c.id == change_id)
            .values(error=f"rollback failed: {error.kind}: {error.message}")
        )
        append(
            conn,
            by,
            "rollback.failed",
            f"recommendation:{change.rec_id}",
            _event(change, applied_change=change_id, error=error.message),
        )
