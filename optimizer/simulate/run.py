"""One what-if from end to end: snapshot the live store, plan the baseline on one copy
and the scenario on another, compare. The live store is only read (one backup or one
read of the planner's tables), so no live plan, recommendation or audit event changes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from optimizer.simulate.compare import compare
from optimizer.simulate.copy import clone, copy_store
from optimizer.simulate.load import LoadedScenario
from optimizer.simulate.outcome import Outcome, plan_copy
from optimizer.simulate.policy_edits import commitment_name, edited_policies
from optimizer.simulate.scenario import NewCommitment
from optimizer.simulate.transform import apply_store_changes
from placement.sizing import SizingSettings
from policies import load_policies

STEPS = 4  # copy, change, plan baseline, plan scenario


def simulate(
    live: Engine,
    loaded: LoadedScenario,
    base_policies: Path,
    time_limit_s: float = 30.0,
    sizing: SizingSettings | None = None,
    advance: Callable[[int], None] = lambda _n: None,
    baseline: Outcome | None = None,
) -> dict[str, Any]:
    """The comparison report; `advance(1)` after each of the `STEPS` steps. `baseline`:
    the outcome of `plan_baseline` on the same store and policies, to plan it once for
    several scenarios."""
    base_file = load_policies(base_policies)
    policy_file, policy_notes = edited_policies(base_policies, loaded)  # fail fast
    discounts = {
        commitment_name(i): c.value.discount_pct
        for i, c in enumerate(loaded.scenario.changes)
        if isinstance(c.value, NewCommitment)
    }
    with tempfile.TemporaryDirectory(prefix="optimizer-simulate-") as tmp:
        base = copy_store(live, Path(tmp) / "baseline.db")
        try:
            scen = clone(base, Path(tmp) / "scenario.db")
            try:
                advance(1)
                with scen.begin() as conn:
                    notes = apply_store_changes(conn, loaded)
                advance(1)
                if baseline is None:
                    baseline = plan_copy(base, base_file, time_limit_s, sizing)
                advance(1)
                what_if = plan_copy(scen, policy_file, time_limit_s, sizing, discounts)
                advance(1)
            finally:
                scen.dispose()
        finally:
            base.dispose()
    return compare(loaded, baseline, what_if, [*notes, *policy_notes])


def plan_baseline(
    live: Engine,
    base_policies: Path,
    time_limit_s: float = 30.0,
    sizing: SizingSettings | None = None,
) -> Outcome:
    """The baseline alone, planned on a copy of `live`."""
    with tempfile.TemporaryDirectory(prefix="optimizer-simulate-") as tmp:
        base = copy_store(live, Path(tmp) / "baseline.db")
        try:
            return plan_copy(base, load_policies(base_policies), time_limit_s, sizing)
        finally:
            base.dispose()
