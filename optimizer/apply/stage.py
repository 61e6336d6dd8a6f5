"""The nightly pipeline's apply stage: approved tiering, through `run_apply`.

Unless `[apply] execute_in_run = true`, the stage is a dry run that lists the calls it
would make: changing a cloud from a cron job is opted into, never a default.
Recommendations of a cloud with no `[apply.<cloud>]` section stay approved, said so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from optimizer.apply.run import run_apply
from optimizer.apply.select import approved_changes

if TYPE_CHECKING:
    from optimizer.config import Config
    from optimizer.pipeline import Hooks, StageResult


def apply_stage(engine: Engine, config: Config, hooks: Hooks) -> StageResult:
    from optimizer.audit_events import actor
    from optimizer.pipeline import StageResult

    settings = config.apply
    pending = approved_changes(engine)
    reachable = {p for p in ("aws", "azure", "gcp") if getattr(settings, p) is not None}
    ids = [c.rec_id for c in pending if c.provider in reachable]
    unreachable = sorted({c.provider for c in pending} - reachable)
    note = f"; no [apply.{', '.join(unreachable)}]: those stay approved" if unreachable else ""
    if not ids:
        return StageResult(
            "apply",
            "ok",
            detail=f"{len(pending)} approved tiering change(s), none to apply{note}",
            data={"applied": 0, "approved": len(pending)},
        )
    execute = settings.execute_in_run
    report = run_apply(engine, settings, execute=execute, by=actor(), ids=ids)
    counts: dict[str, int] = {}
    for outcome in report.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    mode = "" if execute else "dry run ([apply] execute_in_run = false): "
    failures = [f"#{o.change.rec_id} {o.change.target}: {o.detail}" for o in report.failed]
    status = "ok" if not failures else ("failed" if len(failures) == len(ids) else "partial")
    return StageResult(
        "apply",
        status,
        detail=f"{mode}{summary}{note}",
        exit_code=5 if failures else 0,
        data={
            "applied": counts.get("applied", 0),
            "failures": failures,
            "apply_id": report.apply_id,
            "executed": execute,
            "changes": [o.as_dict() for o in report.outcomes],
        },
    )
