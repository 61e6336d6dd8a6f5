"""The placement problem as solvers see it: frozen dataclasses, no store, no policies.

Units, everywhere in this package:

- money is an INTEGER number of micro-dollars (1 USD = 1_000_000 micro-USD), so every
  solver (LP, CP-SAT, greedy) and the validator add the same integers exactly;
- vCPU are whole virtual CPUs, memory is GiB, data is GB (10^9 bytes, as clouds bill egress);
- time is hours; the horizon is the span over which recurring prices are summed.

A plan assigns every demand a tuple of (offer id, replicas); see `Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MICRO = 1_000_000  # micro-dollars per dollar

# workload id -> ((offer id, replicas), ...)
Plan = Mapping[str, tuple[tuple[int, int], ...]]


@dataclass(frozen=True)
class Offer:
    """One purchasable instance: cloud × region × zone × instance type × purchase option.

    `id` is the store's `price_offer.id`; `hourly_micro_usd` is the price of ONE instance
    for one hour in micro-USD; `zone` is "" for a regional offer (the provider picks the
    zone); `interruption_bucket` is 0..4 (see `policies.INTERRUPTION_BUCKETS`) or None
    (unknown, counted as the riskiest for spot).
    """

    id: int
    provider: str
    region: str
    zone: str
    instance_type: str
    family: str | None
    purchase_option: str  # on_demand | spot | commit_1y | commit_3y
    vcpu: int
    memory_gib: float
    hourly_micro_usd: int
    interruption_bucket: int | None = None

    @property
    def is_spot(self) -> bool:
        return self.purchase_option == "spot"


@dataclass(frozen=True)
class Demand:
    """One workload: `replicas` identical replicas, each needing one instance with at least
    `vcpu` vCPU and `memory_gib` GiB.

    `eligible` holds the ids of the offers the policies admit (after pruning dominated
    offers); `move_micro_usd[i]` is the one-off cost, in micro-USD, of using
    `eligible[i]` when it differs from `current_offer_id` (egress of `data_gb` at the
    pair's price + a fixed move cost; 0 for the current offer). It is charged once per
    distinct new offer used, not per replica.

    `spot_share_cap` is the largest share (0..1) of replicas on spot; `min_regions` and
    `min_zones` are the spread asked for, already capped at `replicas` (one replica cannot
    spread). `must_move` is true when today's placement breaks this demand's own rules
    (current offer unknown or ineligible, too much spot, too little spread): such moves
    restore compliance and are not counted against the change budget.

    The policy names only explain an infeasible problem (`placement.conflicts`), solvers
    ignore them: `spot_policy` set `spot_share_cap`, `spread_policy` set `min_regions`
    and `zone_spread_policy` set `min_zones` ("" when none did, or when built by hand);
    `restricted_by` names the residency, latency, spot and capacity-exclusion policies
    that ruled out at least one offer big enough for this demand, and the change-budget
    policies whose per-move thresholds (anti-churn) excluded one.

    Sizing (`placement.sizing`; only explanations and recommendations read these):
    `vcpu` and `memory_gib` are what one replica NEEDS (from recent utilization, or the
    recorded size); `recorded_vcpu` and `recorded_memory_gib` are what the workload
    records (None when built by hand), `sizing_note` says how the size was decided,
    `undersized` is true when today's instance is smaller than the need (then moving is
    required), and `idle_note` is the idle verdict in words ("" when not idle).
    """

    id: str
    replicas: int
    vcpu: int
    memory_gib: float
    current_offer_id: int | None
    data_gb: float
    eligible: tuple[int, ...]
    move_micro_usd: tuple[int, ...]
    spot_share_cap: float = 1.0
    min_regions: int = 1
    min_zones: int = 1
    must_move: bool = False
    spot_policy: str = ""
    spread_policy: str = ""
    zone_spread_policy: str = ""
    restricted_by: tuple[str, ...] = ()
    recorded_vcpu: int | None = None
    recorded_memory_gib: float | None = None
    sizing_note: str = ""
    undersized: bool = False
    idle_note: str = ""

    def __post_init__(self) -> None:
        if len(self.eligible) != len(self.move_micro_usd):
            raise ValueError(f"{self.id}: eligible and move_micro_usd differ in length")
        if self.replicas < 1:
            raise ValueError(f"{self.id}: replicas must be at least 1")

    @property
    def max_spot_replicas(self) -> int:
        """The most replicas allowed on spot (floor of cap × replicas)."""
        return int(self.spot_share_cap * self.replicas + 1e-9)

    def move_cost(self, offer_id: int) -> int:
        """One-off micro-USD for using `offer_id`; 0 for today's offer."""
        if offer_id == self.current_offer_id:
            return 0
        try:
            return self.move_micro_usd[self.eligible.index(offer_id)]
        except ValueError:
            raise KeyError(f"offer {offer_id} is not eligible for {self.id}") from None


@dataclass(frozen=True)
class Quota:
    """At most `max_vcpu` instance vCPUs in use on (provider, region), all families when
    `family` is None, else that family only."""

    provider: str
    region: str
    family: str | None
    max_vcpu: int
    policy: str = ""

    def covers(self, offer: Offer) -> bool:
        return (
            offer.provider == self.provider
            and offer.region == self.region
            and self.family in (None, offer.family)
        )


@dataclass(frozen=True)
class Commitment:
    """Capacity already paid for (reservation, savings plan, committed-use discount): the
    first `capacity` units of matching ON-DEMAND use each hour cost nothing more.

    `unit` is "vcpu" (reserved instances, resource CUDs: `capacity` vCPU, each covered
    vCPU-hour worth `rate_micro_usd`, the cheapest matching on-demand price per vCPU-hour,
    so credit is never overstated) or "usd" (savings plans, spend CUDs: `capacity`
    micro-USD of on-demand price per hour, `rate_micro_usd` = 1). `region`, `family` and
    `instance_type` narrow the scope when set. See `placement.cost` for the credit."""

    name: str
    provider: str
    unit: str  # vcpu | usd
    capacity: int
    rate_micro_usd: int
    region: str | None = None
    family: str | None = None
    instance_type: str | None = None

    def covers(self, offer: Offer) -> bool:
        return (
            offer.purchase_option == "on_demand"
            and offer.provider == self.provider
            and self.region in (None, offer.region)
            and self.family in (None, offer.family)
            and self.instance_type in (None, offer.instance_type)
        )

    @property
    def specificity(self) -> int:
        """Narrower scopes first: instance type, then family, then region."""
        return (
            4 * (self.instance_type is not None)
            + 2 * (self.family is not None)
            + (self.region is not None)
        )

    def use_per_replica(self, offer: Offer) -> int:
        """Units one replica on `offer` uses of this commitment, per hour."""
        return offer.vcpu if self.unit == "vcpu" else offer.hourly_micro_usd


@dataclass(frozen=True)
class Infeasible:
    """A workload no offer can host, said in policy names."""

    demand: str
    policies: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Problem:
    """Everything a solver needs. `max_moves` and `max_one_off_micro_usd` are the change
    budget per run (None: unbounded); `restart_micro_usd` prices one spot interruption of
    one replica (see `placement.cost`). `change_budget_policy` and `spend_budget_policy`
    name the change-budget policies that set `max_moves` and `max_one_off_micro_usd`
    (only for explanations, see `placement.conflicts`)."""

    horizon_hours: int
    offers: tuple[Offer, ...]
    demands: tuple[Demand, ...]
    quotas: tuple[Quota, ...] = ()
    max_moves: int | None = None
    max_one_off_micro_usd: int | None = None
    restart_micro_usd: int = 20 * MICRO
    infeasible: tuple[Infeasible, ...] = ()
    change_budget_policy: str = ""
    spend_budget_policy: str = ""
    commitments: tuple[Commitment, ...] = ()
    notes: tuple[str, ...] = ()  # what the builder left out and why, for the plan's details
    _by_id: dict[int, Offer] = field(default_factory=dict, init=False, repr=False, compare=False)
    _pool: dict[int, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _cover: dict[int, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_id.update((o.id, o) for o in self.offers)
        self._cover.update(
            (o.id, tuple(i for i, q in enumerate(self.quotas) if q.covers(o))) for o in self.offers
        )
        order = sorted(
            range(len(self.commitments)), key=lambda i: (-self.commitments[i].specificity, i)
        )
        for o in self.offers:
            for i in order:
                if self.commitments[i].covers(o):
                    self._pool[o.id] = i
                    break

    def offer(self, offer_id: int) -> Offer:
        return self._by_id[offer_id]

    def quotas_covering(self, offer_id: int) -> tuple[int, ...]:
        """Indexes (into `quotas`) of the quotas an instance of `offer_id` counts against."""
        return self._cover[offer_id]

    def commitment_of(self, offer_id: int) -> int | None:
        """Index of the one commitment that covers `offer_id` (the most specific one: a
        usage counts towards one commitment only, so credits never double count)."""
        return self._pool.get(offer_id)
