"""Anti-churn: the per-move thresholds of the change-budget policies, for compute moves.

`min_monthly_saving_usd` and `max_payback_days` (policies/change_rules.py) say how good
ONE move must be to be worth the disruption. An offer other than today's is eligible
for a workload only if moving every replica there

- saves at least the minimum per 730-hour month (compute + expected spot restarts,
  against today's offer: the recurring part of the solver's objective), and
- pays its one-off cost (egress of the workload's data + the fixed move cost) back
  within the maximum days (daily saving = monthly × 12 / 365, as recommendations say).

Every applicable policy must agree (so the strictest wins); the ones that refuse are
named, so `Demand.restricted_by` and `policy explain` can say who excluded the offer.
Compliance moves (`Demand.must_move`: today's offer is not allowed) are exempt, since
staying is not an option. Shared by the builder and `optimizer policy explain`.

The per-RUN budget (moves, one-off spend) is combined here too (`run_budget`), but the
solver enforces it as constraints over the whole plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from placement.cost import HOURS_PER_MONTH, risk_micro_usd
from placement.problem import MICRO, Offer, Problem
from policies import ChangeBudgetPolicy, PolicyFile

# Used for a region pair with no stored egress price: the first internet-egress tier of
# the big three clouds (≈ 0.09 USD/GB), so an unknown pair is never free.
DEFAULT_EGRESS_USD_PER_GB = Decimal("0.09")
DEFAULT_MOVE_FIXED_USD = Decimal("50")
RESTART_MICRO_USD: int = Problem.restart_micro_usd  # the builder keeps the default


def micro_usd(value: Decimal) -> int:
    """Dollars to integer micro-dollars, rounding half to even."""
    return int((value * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def move_micro_usd(
    egress: dict[tuple[str, str, str, str], Decimal],
    today: tuple[str, str],
    to: tuple[str, str],
    data_gb: float,
    fixed_micro: int,
) -> int:
    """One move of a workload's data from `today` (provider, region) to `to`, plus the
    fixed move cost; egress is free inside one region."""
    same = today == to
    per_gb = Decimal(0) if same else egress.get((*today, *to), DEFAULT_EGRESS_USD_PER_GB)
    return micro_usd(per_gb * Decimal(str(data_gb))) + fixed_micro


def unit_month_micro_usd(offer: Any, restart_micro_usd: int = RESTART_MICRO_USD) -> int:
    """Recurring cost of one replica on `offer` per 730-hour month: compute + spot risk.
    `offer` is a placement `Offer` (or anything with its fields)."""
    return int(offer.hourly_micro_usd) * HOURS_PER_MONTH + risk_micro_usd(
        offer, HOURS_PER_MONTH, restart_micro_usd
    )


@dataclass(frozen=True)
class ChurnRules:
    """The applicable change-budget policies that set a per-move threshold."""

    policies: tuple[ChangeBudgetPolicy, ...] = ()

    @classmethod
    def of(cls, chosen: Iterable[object]) -> ChurnRules:
        return cls(
            tuple(
                p
                for p in chosen
                if isinstance(p, ChangeBudgetPolicy)
                and (p.min_monthly_saving_usd is not None or p.max_payback_days is not None)
            )
        )

    def blockers(
        self, replicas: int, today: Offer, offer: Offer, move_micro: int
    ) -> tuple[str, ...]:
        """The policies that find moving all `replicas` from `today` to `offer` not worth
        it (empty: eligible)."""
        if not self.policies or offer.id == today.id:
            return ()
        saving, payback = saving_and_payback(replicas, today, offer, move_micro)
        return tuple(sorted(p.name for p in self.policies if not p.worth_moving(saving, payback)))

    def text(self, replicas: int, today: Offer, offer: Offer, move_micro: int) -> str:
        """Why the offer is excluded, with the numbers (for `policy explain`)."""
        saving, payback = saving_and_payback(replicas, today, offer, move_micro)
        days = "never" if payback == float("inf") else f"{payback:,.0f} days"
        return (
            f"{offer.provider}:{offer.region} {offer.instance_type} {offer.purchase_option}: "
            f"saves {saving:,.2f} USD/month, pays back {days}"
        )


def saving_and_payback(
    replicas: int, today: Offer, offer: Offer, move_micro: int
) -> tuple[Decimal, float]:
    """(monthly saving in USD of moving every replica, payback days; inf without a
    saving)."""
    saving = Decimal(replicas * (unit_month_micro_usd(today) - unit_month_micro_usd(offer))) / MICRO
    daily = saving * 12 / 365
    payback = float(Decimal(move_micro) / MICRO / daily) if daily > 0 else float("inf")
    return saving, payback


def run_budget(policies: PolicyFile) -> tuple[int | None, int | None]:
    """The strictest per-run change budget over all change-budget policies."""
    moves: int | None = None
    spend: int | None = None
    for p in policies.of_type(ChangeBudgetPolicy):
        if p.max_moves_per_run is not None:
            moves = p.max_moves_per_run if moves is None else min(moves, p.max_moves_per_run)
        if p.max_one_off_usd_per_run is not None:
            m = micro_usd(Decimal(p.max_one_off_usd_per_run))
            spend = m if spend is None else min(spend, m)
    return moves, spend


def run_budget_names(policies: PolicyFile) -> tuple[str, str]:
    """The change-budget policies behind `run_budget`'s (moves, spend), for explanations."""
    moves, spend = run_budget(policies)
    by_moves = by_spend = ""
    for p in policies.of_type(ChangeBudgetPolicy):
        if not by_moves and moves is not None and p.max_moves_per_run == moves:
            by_moves = p.name
        limit = p.max_one_off_usd_per_run
        if not by_spend and limit is not None and micro_usd(Decimal(limit)) == spend:
            by_spend = p.name
    return by_moves, by_spend
