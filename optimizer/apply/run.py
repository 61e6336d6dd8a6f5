"""One `optimizer apply` run: dry run (the exact calls) or `--execute`.

Executing takes the store's "apply" lock, then for each change in turn: read the live
state, refuse if the bucket's rules changed since planning, record that state (the
rollback record) before the first call, make the calls, record the result with its
audit event. A failure stops the run: the calls already made for that change are
undone when the cloud allows, and the rest stay approved for the next run.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from optimizer.apply import records
from optimizer.apply.changes import Call, LiveState, TieringChange
from optimizer.apply.errors import ApplyConflict
from optimizer.apply.select import approved_changes, within_limits
from optimizer.apply.settings import ApplySettings
from optimizer.apply.target import TieringTarget, mapping_for, target_for
from store.errors import ApplyError, ApplyLimitExceeded, OptimizerError
from store.locks import hold

TargetFactory = Callable[[str], TieringTarget]


@dataclass
class Outcome:
    """What happened to one change (status: planned | applied | already | conflict |
    refused | failed | deferred | not-attempted | unconfigured: no [apply.<cloud>] |
    manual: an action optimizer only recommends, such as automatic tiering)."""

    change: TieringChange
    status: str
    calls: list[Call] = field(default_factory=list)
    detail: str = ""
    error: OptimizerError | None = None
    change_id: int | None = None
    live: LiveState | None = field(default=None, repr=False)  # what `prepare` read

    def as_dict(self) -> dict[str, object]:
        c = self.change
        return {
            "recommendation": c.rec_id,
            "subject": c.subject,
            "provider": c.provider,
            "target": c.target,
            "action": c.action,
            "from": c.current_tier,
            "to": c.tier,
            "bytes": c.bytes,
            "status": self.status,
            "detail": self.detail,
            "calls": [call.render() for call in self.calls],
            "applied_change": self.change_id,
            "error": None if self.error is None else self.error.as_dict(),
        }


@dataclass
class ApplyReport:
    apply_id: str
    executed: bool
    outcomes: list[Outcome]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("failed", "conflict", "refused")]


def cached_targets(settings: ApplySettings) -> TargetFactory:
    made: dict[str, TieringTarget] = {}

    def get(provider: str) -> TieringTarget:
        if provider not in made:
            made[provider] = target_for(provider, settings)
        return made[provider]

    return get


def drift(change: TieringChange, live: LiveState) -> str | None:
    """Why the live rules differ from those the plan saw (ours excluded), or None.
    Rules the store never saw (FOCUS-only data) cannot be compared: no drift check."""
    if change.known_rules is None:
        return None
    mapping = mapping_for(change.provider)
    planned = mapping.foreign_rules(tuple(json.loads(r) for r in change.known_rules))
    now = mapping.foreign_rules(live.rules)
    if planned == now:
        return None
    return (
        f"the lifecycle rules of {change.target} changed since planning "
        f"({len(planned)} rule(s) then, {len(now)} now, not counting optimizer's)"
    )


APPLIED_ACTIONS = ("lifecycle", "one-off")


def prepare(change: TieringChange, target: TieringTarget, settings: ApplySettings) -> Outcome:
    """Read the live state and work out the calls; nothing changes in the cloud."""
    if change.action not in APPLIED_ACTIONS:
        msg = f"{change.action!r} ({change.tier}) is recommended, not applied by optimizer"
        fix = "turn it on in the cloud's console or IaC (S3 Intelligent-Tiering, Azure "
        fix += "last-access tiering, GCS Autoclass), then reject or let the next plan drop it"
        return Outcome(change, "manual", detail=f"{msg}: {fix}")
    try:
        live = target.read(change, settings.max_objects_per_change)
    except OptimizerError as exc:
        return Outcome(change, "failed", detail=exc.message, error=exc)
    why = drift(change, live)
    if why:
        fix = "re-collect and re-plan (`optimizer collect ... && optimizer plan`), then approve"
        return Outcome(change, "conflict", detail=why, error=ApplyConflict(why, fix=fix))
    if live.truncated:
        msg = (
            f"more than {settings.max_objects_per_change} objects to re-tier one by one "
            f"in {change.target}"
        )
        fix = "raise [apply] max_objects_per_change, or prefer a lifecycle rule"
        return Outcome(change, "refused", detail=msg, error=ApplyLimitExceeded(msg, fix=fix))
    calls = mapping_for(change.provider).apply_calls(change, live)
    outcome = Outcome(change, "planned" if calls else "already", calls)
    outcome.detail = f"{len(calls)} call(s)" if calls else "already in place: nothing to do"
    outcome.live = live
    return outcome


def run_apply(
    engine: Engine,
    settings: ApplySettings,
    *,
    execute: bool,
    by: str,
    ids: Sequence[int] = (),
    targets: TargetFactory | None = None,
) -> ApplyReport:
    targets = targets or cached_targets(settings)
    report = ApplyReport(uuid.uuid4().hex, execute, [])
    if not execute:
        taken, deferred = _select(engine, settings, ids)
        report.outcomes = [_prepare_with(c, targets, settings) for c in taken] + deferred
        return report
    with hold(engine, "apply", ttl_s=settings.lock_ttl_seconds) as lease:
        # selected under the lock: what another run applied meanwhile is not approved now
        taken, deferred = _select(engine, settings, ids)
        stopped = False
        for change in taken:
            if stopped:
                report.outcomes.append(Outcome(change, "not-attempted", detail="run stopped"))
                continue
            outcome = _prepare_with(change, targets, settings)
            if outcome.status in ("planned", "already"):
                outcome = _execute(engine, change, outcome, targets, report.apply_id, by)
            elif outcome.status == "manual":
                pass  # recommended only: it stays approved, nothing is recorded
            elif outcome.status == "failed" and outcome.error is not None:
                records.not_reached(engine, change, outcome.error, by)
                outcome.detail += " (nothing called; it stays approved)"
            else:
                records.refused(engine, change, outcome, report.apply_id, by)
            report.outcomes.append(outcome)
            stopped = outcome.status == "failed"
            lease.renew()
    report.outcomes += deferred
    return report


def _select(
    engine: Engine, settings: ApplySettings, ids: Sequence[int]
) -> tuple[tuple[TieringChange, ...], list[Outcome]]:
    """(the changes this run takes, the approved ones it leaves and why)."""
    changes = approved_changes(engine, ids)
    reachable = [c for c in changes if getattr(settings, c.provider, None) is not None]
    selection = within_limits(reachable, settings)
    left = [Outcome(c, "deferred", detail=why) for c, why in selection.deferred]
    left += [  # a cloud optimizer was not told how to reach is never called
        Outcome(
            c,
            "unconfigured",
            detail=f"no [apply.{c.provider}] section in the config: "
            "it stays approved (docs/apply.md)",
        )
        for c in changes
        if c not in reachable
    ]
    return selection.taken, left


def _prepare_with(
    change: TieringChange, targets: TargetFactory, settings: ApplySettings
) -> Outcome:
    try:
        target = targets(change.provider)
    except OptimizerError as exc:
        return Outcome(change, "failed", detail=exc.message, error=exc)
    return prepare(change, target, settings)


def _execute(
    engine: Engine,
    change: TieringChange,
    outcome: Outcome,
    targets: TargetFactory,
    apply_id: str,
    by: str,
) -> Outcome:
    target = targets(change.provider)
    live = outcome.live
    assert live is not None  # set by prepare for planned and already
    change_id = records.start(engine, change, live, outcome.calls, apply_id, by)
    outcome.change_id = change_id
    done = 0
    try:
        for call in outcome.calls:
            target.execute(call)
            done += 1
    except ApplyError as exc:
        undone = _undo(change, live, target) if done else "no call had completed"
        outcome.status, outcome.error = "failed", exc
        outcome.detail = f"{exc.message} after {done} of {len(outcome.calls)} call(s); {undone}"
        records.failed(engine, change, change_id, exc, done, undone, by)
        return outcome
    after = _read_after(change, target)
    records.applied(engine, change, change_id, after, by, already=not outcome.calls)
    outcome.status = "applied" if outcome.calls else "already"
    return outcome


def undo_calls(change: TieringChange, before: LiveState, target: TieringTarget) -> list[Call]:
    """The calls that put back what `change` did from `before`, read from the bucket now:
    every object under the prefix, whatever its age (a re-tier may have renewed it)."""
    wide = dataclasses.replace(change, after_days=None)
    now = target.read(wide, 10 * max(len(before.objects), 1000))
    calls: list[Call] = mapping_for(change.provider).rollback_calls(change, before, now)
    return calls


def _undo(change: TieringChange, before: LiveState, target: TieringTarget) -> str:
    """Best effort: put back what the failed change did, so nothing stays half-applied."""
    try:
        calls = undo_calls(change, before, target)
        for call in calls:
            target.execute(call)
    except OptimizerError as exc:
        return f"undo failed too ({exc.message}): `optimizer rollback {change.rec_id}` later"
    return f"undone ({len(calls)} call(s))"


def _read_after(change: TieringChange, target: TieringTarget) -> LiveState | None:
    try:
        return target.read(dataclasses.replace(change, after_days=None), 100_000)
    except OptimizerError:
        return None
