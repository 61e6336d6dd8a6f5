"""`optimizer rollback ID`: undo an applied change from its rollback record.

Only optimizer's own part is undone: its lifecycle rule is removed (rules others added
since stay), and objects it re-tiered go back to their recorded class if they are
still in the class it put them in. Dry run by default, like apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from optimizer.apply import records
from optimizer.apply.changes import Call, LiveState, TieringChange
from optimizer.apply.run import TargetFactory, cached_targets, undo_calls
from optimizer.apply.settings import ApplySettings
from optimizer.apply.target import TieringTarget
from store.errors import ConfigError, OptimizerError
from store.locks import hold


@dataclass
class Undo:
    rec_id: int
    status: str  # planned | rolled_back | nothing-to-undo | failed
    calls: list[Call] = field(default_factory=list)
    detail: str = ""
    error: OptimizerError | None = None
    target: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "recommendation": self.rec_id,
            "target": self.target,
            "status": self.status,
            "detail": self.detail,
            "calls": [c.render() for c in self.calls],
            "error": None if self.error is None else self.error.as_dict(),
        }


def _records(engine: Engine, ids: Sequence[int]) -> list[tuple[int, TieringChange, LiveState]]:
    out, problems = [], []
    with engine.connect() as conn:
        for rec_id in sorted(set(ids)):
            row = records.latest(conn, rec_id)
            if row is None:
                problems.append(f"#{rec_id} was never applied")
            elif row.status not in records.UNDOABLE:
                problems.append(f"#{rec_id}'s last change is {row.status}")
            else:
                change = TieringChange(**_change_fields(row.before["change"]))
                out.append((int(row.id), change, LiveState.from_dict(row.before["state"])))
    if problems:
        raise ConfigError(
            "cannot roll back: " + "; ".join(problems) + " (nothing was rolled back)",
            fix="`optimizer recommendations list --status applied` shows what can be",
        )
    return out


def _change_fields(data: dict[str, Any]) -> dict[str, Any]:
    known = data.get("known_rules")
    return {**data, "known_rules": None if known is None else tuple(known)}


def run_rollback(
    engine: Engine,
    settings: ApplySettings,
    ids: Sequence[int],
    *,
    execute: bool,
    by: str,
    reason: str | None = None,
    targets: TargetFactory | None = None,
) -> list[Undo]:
    targets = targets or cached_targets(settings)
    found = _records(engine, ids)
    if not execute:
        return [_plan(change_id, change, before, targets)[0] for change_id, change, before in found]
    results = []
    with hold(engine, "apply", ttl_s=settings.lock_ttl_seconds):
        for change_id, change, before in found:
            undo, target = _plan(change_id, change, before, targets)
            if undo.status == "failed" or target is None:
                if undo.error is not None:
                    records.rollback_failed(engine, change, change_id, undo.error, by)
                results.append(undo)
                continue
            try:
                for call in undo.calls:
                    target.execute(call)
            except OptimizerError as exc:
                records.rollback_failed(engine, change, change_id, exc, by)
                undo.status, undo.error, undo.detail = "failed", exc, exc.message
                results.append(undo)
                continue
            records.rolled_back(engine, change, change_id, undo.calls, by, reason)
            undo.status = "rolled_back"
            results.append(undo)
    return results


def _plan(
    change_id: int, change: TieringChange, before: LiveState, targets: TargetFactory
) -> tuple[Undo, TieringTarget | None]:
    undo = Undo(change.rec_id, "planned", target=change.target)
    try:
        target = targets(change.provider)
        undo.calls = undo_calls(change, before, target)
    except OptimizerError as exc:
        undo.status, undo.error, undo.detail = "failed", exc, exc.message
        return undo, None
    if not undo.calls:
        undo.detail = "nothing of optimizer's is left in place: the record is closed"
    else:
        undo.detail = f"{len(undo.calls)} call(s)"
    return undo, target
