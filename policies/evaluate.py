"""Whether a workload may run on an offer, and why not: the policies' verdicts.

Pure functions over plain facts (no store sessions): the caller passes the workload,
the offer, and lookups for region facts and measured latency. The same verdicts feed
`optimizer policy explain` now and the placement builder's eligibility later, so a
rule's meaning is stated once. Residency and latency fail closed: a region whose
country is unknown, or an RTT that was never measured and cannot be estimated, is not
eligible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policies.base import PolicyBase, SelectedPolicy
from policies.change_rules import ChangeBudgetPolicy
from policies.latency_model import estimated_rtt_ms
from policies.models import PolicyFile
from policies.placement_rules import (
    INTERRUPTION_BUCKETS,
    CapacityPolicy,
    LatencyPolicy,
    ResidencyPolicy,
    SpotPolicy,
    SpreadPolicy,
)


@dataclass(frozen=True)
class WorkloadFacts:
    name: str
    provider: str
    region: str
    tags: dict[str, object]
    data_classification: str | None = None
    owner: str | None = None
    user_regions: tuple[str, ...] = ()  # "provider:region"


@dataclass(frozen=True)
class OfferFacts:
    provider: str
    region: str
    instance_type: str
    purchase_option: str
    family: str | None = None
    interruption_bucket: int | None = None


@dataclass(frozen=True)
class RegionFacts:
    country_code: str | None
    jurisdiction: str | None
    latitude: float | None
    longitude: float | None


RegionLookup = Callable[[str, str], RegionFacts | None]
RttLookup = Callable[[str, str, str, str], float | None]  # measured RTT in ms, or None


@dataclass(frozen=True)
class Reason:
    policy: str
    type: str
    text: str


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reasons: tuple[Reason, ...]  # why not (empty when allowed)
    notes: tuple[Reason, ...] = ()  # e.g. estimated latencies that passed


def applicable(policies: PolicyFile, w: WorkloadFacts) -> list[PolicyBase]:
    """The enabled policies that apply to this workload (global ones always do)."""
    out: list[PolicyBase] = []
    for p in policies.policies:
        if not p.enabled:
            continue
        if isinstance(p, SelectedPolicy) and not p.applies_to(
            w.name, w.tags, w.data_classification, w.owner, w.provider
        ):
            continue
        out.append(p)
    return out


def _where(provider: str, region: str, facts: RegionFacts | None) -> str:
    if facts is None or not (facts.country_code or facts.jurisdiction):
        return f"{provider}:{region} (country unknown)"
    return f"{provider}:{region} ({facts.country_code or facts.jurisdiction})"


def _rtt(
    origin: str, offer: OfferFacts, regions: RegionLookup, rtt: RttLookup, estimate: bool
) -> tuple[float | None, bool]:
    """(RTT in ms, estimated?) from an origin "provider:region" to the offer's region."""
    o_provider, _, o_region = origin.partition(":")
    if (o_provider, o_region) == (offer.provider, offer.region):
        return 0.0, False
    measured = rtt(o_provider, o_region, offer.provider, offer.region)
    if measured is None:
        measured = rtt(offer.provider, offer.region, o_provider, o_region)
    if measured is not None:
        return measured, False
    if not estimate:
        return None, False
    a, b = regions(o_provider, o_region), regions(offer.provider, offer.region)
    if a is None or b is None or None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None, True
    assert a.latitude is not None and a.longitude is not None
    assert b.latitude is not None and b.longitude is not None
    return estimated_rtt_ms(a.latitude, a.longitude, b.latitude, b.longitude), True


def evaluate(
    policies: list[PolicyBase],
    w: WorkloadFacts,
    offer: OfferFacts,
    regions: RegionLookup,
    rtt: RttLookup,
) -> Verdict:
    """The verdict of the applicable policies on one workload × offer pair."""
    reasons: list[Reason] = []
    notes: list[Reason] = []
    region = regions(offer.provider, offer.region)
    for p in policies:
        if isinstance(p, ResidencyPolicy):
            ok = region is not None and p.allow.admits(
                offer.provider, offer.region, region.country_code, region.jurisdiction
            )
            if not ok:
                allowed = ", ".join([*p.allow.jurisdictions, *p.allow.countries, *p.allow.regions])
                where = _where(offer.provider, offer.region, region)
                reasons.append(Reason(p.name, p.type, f"{where} is outside {allowed}"))
        elif isinstance(p, LatencyPolicy):
            origins = [f"{a}:{b}" for a, b in p.fixed_regions()]
            if p.uses_user_regions():
                origins.extend(w.user_regions)
            for origin in origins:
                ms, estimated = _rtt(origin, offer, regions, rtt, p.estimate_unmeasured)
                kind = "estimated" if estimated else "measured"
                if ms is None:
                    reasons.append(Reason(p.name, p.type, f"no RTT known from {origin}"))
                elif ms > p.max_rtt_ms:
                    reasons.append(
                        Reason(
                            p.name,
                            p.type,
                            f"{ms:.0f} ms from {origin} ({kind}) > {p.max_rtt_ms:g} ms",
                        )
                    )
                elif estimated:
                    notes.append(
                        Reason(
                            p.name, p.type, f"{ms:.0f} ms from {origin} (estimated) within limit"
                        )
                    )
        elif isinstance(p, SpotPolicy) and offer.purchase_option == "spot":
            if not p.allow:
                reasons.append(Reason(p.name, p.type, "spot is not allowed"))
            elif not p.admits_bucket(offer.interruption_bucket):
                bucket = offer.interruption_bucket
                label = "unknown" if bucket is None else INTERRUPTION_BUCKETS[bucket]
                cap = INTERRUPTION_BUCKETS[p.bucket_cap()]
                reasons.append(
                    Reason(p.name, p.type, f"interruption rate {label} is above the allowed {cap}")
                )
        elif isinstance(p, CapacityPolicy) and p.excludes(offer.provider, offer.region):
            reasons.append(Reason(p.name, p.type, f"{offer.provider}:{offer.region} is excluded"))
    return Verdict(not reasons, tuple(reasons), tuple(notes))


def _budget_text(p: ChangeBudgetPolicy) -> str:
    per_run = [
        f"at most {p.max_moves_per_run} moves" if p.max_moves_per_run is not None else "",
        f"{p.max_one_off_usd_per_run} USD one-off" if p.max_one_off_usd_per_run else "",
    ]
    per_move = [
        f"saves ≥ {p.min_monthly_saving_usd} USD/month" if p.min_monthly_saving_usd else "",
        f"pays back within {p.max_payback_days:g} days" if p.max_payback_days else "",
    ]
    run = " and ".join(x for x in per_run if x)
    move = " and ".join(x for x in per_move if x)
    parts = ([f"per run {run}"] if run else []) + ([f"a move must: {move}"] if move else [])
    return "; ".join(parts) or "no limit set"


def side_constraints(policies: list[PolicyBase], w: WorkloadFacts) -> list[Reason]:
    """What applies to the workload as a whole rather than to single offers."""
    out: list[Reason] = []
    for p in policies:
        if isinstance(p, SpotPolicy) and p.allow and p.share_cap() < 1:
            out.append(Reason(p.name, p.type, f"at most {p.share_cap():.0%} of replicas on spot"))
        elif isinstance(p, SpreadPolicy):
            what = f"{p.min_regions} regions" if p.min_regions else f"{p.min_zones} zones"
            out.append(Reason(p.name, p.type, f"replicas spread over at least {what}"))
        elif isinstance(p, CapacityPolicy) and p.quotas:
            out.append(Reason(p.name, p.type, f"{len(p.quotas)} vCPU quota(s) shared by all"))
        elif isinstance(p, ChangeBudgetPolicy):
            out.append(Reason(p.name, p.type, _budget_text(p)))
        elif not isinstance(p, ResidencyPolicy | LatencyPolicy | SpotPolicy | CapacityPolicy):
            out.append(Reason(p.name, p.type, "applies to the plan, not to single offers"))
    return out
