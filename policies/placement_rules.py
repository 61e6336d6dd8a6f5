"""Policies that decide where a workload may run: residency, latency, spot, capacity, spread.

The placement builder turns residency and latency into hard eligibility of an offer,
spot and spread into side constraints per workload, and capacity into quotas per
cloud × region (× family). The small pure helpers here (`admits`, `share_cap`, …) are
the single statement of each rule's meaning, shared by the solver's validator and by
`policy explain`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge, Le, MinLen
from pydantic import BeforeValidator, Field, Strict, WithJsonSchema, model_validator

from policies import vocab
from policies.base import PolicyBase, SelectedPolicy
from policies.fields import (
    Country,
    FromItem,
    FrozenModel,
    Jurisdiction,
    PositiveCount,
    PositiveNumber,
    Provider,
    RegionName,
    RegionRef,
    Share,
    Text,
    as_list,
    problem,
)

# AWS Spot Advisor "frequency of interruption" buckets; Azure eviction rates and GCP
# preemption figures are mapped onto the same five buckets by the collectors.
INTERRUPTION_BUCKETS = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")

Bucket = Annotated[int, Strict(), Ge(0), Le(len(INTERRUPTION_BUCKETS) - 1)]
AtLeastTwo = Annotated[int, Strict(), Ge(2)]
Origins = Annotated[
    tuple[FromItem, ...],
    MinLen(1),
    BeforeValidator(as_list),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": vocab.USER_REGIONS},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
            "description": "user_regions, or provider:region strings (both may be mixed).",
        }
    ),
]


class ResidencyAllow(FrozenModel):
    """Where selected workloads may run: the union of everything listed."""

    jurisdictions: Annotated[tuple[Jurisdiction, ...], BeforeValidator(as_list)] = ()
    countries: Annotated[tuple[Country, ...], BeforeValidator(as_list)] = ()
    regions: Annotated[tuple[RegionRef, ...], BeforeValidator(as_list)] = ()

    @model_validator(mode="after")
    def _something_allowed(self) -> ResidencyAllow:
        if not (self.jurisdictions or self.countries or self.regions):
            raise problem(
                "empty_allow",
                "`allow` lists no jurisdiction, country or region",
                "give at least one of jurisdictions, countries or regions, "
                "e.g. `jurisdictions: [EU]`",
            )
        return self

    def allowed_countries(self) -> frozenset[str]:
        out = set(self.countries)
        for code in self.jurisdictions:
            out |= vocab.countries_of(code)
        return frozenset(out)

    def admits(
        self,
        provider: str,
        region: str,
        country_code: str | None = None,
        jurisdiction: str | None = None,
    ) -> bool:
        """Whether a region is allowed, from the store's `region` row.

        The country decides when known; otherwise the stored jurisdiction; a region
        with neither is refused (residency cannot be proven, so it fails closed).
        """
        if f"{provider}:{region}" in self.regions:
            return True
        if country_code:
            return country_code.upper() in self.allowed_countries()
        if jurisdiction:
            code = jurisdiction.upper()
            return any(code in vocab.store_jurisdictions_of(j) for j in self.jurisdictions)
        return False


class ResidencyPolicy(SelectedPolicy):
    """Selected workloads run only in the allowed jurisdictions, countries or regions."""

    type: Literal["residency"]
    allow: ResidencyAllow


class LatencyPolicy(SelectedPolicy):
    """Measured RTT from the users' regions to the workload's region stays under a limit.

    Unmeasured pairs are estimated from great-circle distance (`policies.latency_model`,
    whose docstring states the model) unless `estimate_unmeasured: false`, in which case
    an unmeasured pair is not eligible. Explanations say "estimated" for estimates.
    """

    type: Literal["latency"]
    from_: Origins = Field(alias="from")
    max_rtt_ms: PositiveNumber
    estimate_unmeasured: bool = True

    def uses_user_regions(self) -> bool:
        """True when each workload's own `user_regions` are origins."""
        return vocab.USER_REGIONS in self.from_

    def fixed_regions(self) -> tuple[tuple[str, str], ...]:
        """The (provider, region) origins written in the file."""
        return tuple(
            (p, r) for p, _, r in (o.partition(":") for o in self.from_ if o != vocab.USER_REGIONS)
        )


class SpotPolicy(SelectedPolicy):
    """Whether selected workloads may use spot, how much of each, and how risky."""

    type: Literal["spot"]
    allow: bool = True
    max_share: Share | None = Field(default=None, description="0 to 1; absent means 1.")
    max_interruption_bucket: Bucket | None = Field(
        default=None, description="0 (<5%) to 4 (>20%); absent means 4."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SpotPolicy:
        if not self.allow:
            for key in ("max_share", "max_interruption_bucket"):
                value = getattr(self, key)
                if value is not None and (key != "max_share" or value > 0):
                    raise problem(
                        "spot_forbidden",
                        f"`allow: false` forbids spot, so `{key}` has no effect",
                        f"drop `{key}`, or write `allow: true` to permit some spot",
                        at=key,
                    )
        return self

    def share_cap(self) -> float:
        """The largest share of a workload's replicas that may be on spot."""
        if not self.allow:
            return 0.0
        return 1.0 if self.max_share is None else self.max_share

    def bucket_cap(self) -> int:
        """The riskiest interruption bucket allowed."""
        top = len(INTERRUPTION_BUCKETS) - 1
        return top if self.max_interruption_bucket is None else self.max_interruption_bucket

    def admits_bucket(self, bucket: int | None) -> bool:
        """An offer with an unknown interruption bucket counts as the riskiest."""
        risk = len(INTERRUPTION_BUCKETS) - 1 if bucket is None else bucket
        return self.allow and risk <= self.bucket_cap()


class Quota(FrozenModel):
    """At most `max_vcpu` vCPUs in one region (and, when given, one instance family)."""

    provider: Provider
    region: RegionName
    family: Text | None = None
    max_vcpu: PositiveCount


class Exclusion(FrozenModel):
    """A whole cloud (no region) or one region that nothing may be placed in."""

    provider: Provider
    region: RegionName | None = None


class CapacityPolicy(PolicyBase):
    """Quotas and exclusions for the whole estate (no selector: they bound every plan)."""

    type: Literal["capacity"]
    quotas: tuple[Quota, ...] = ()
    exclude: tuple[Exclusion, ...] = ()

    @model_validator(mode="after")
    def _checks(self) -> CapacityPolicy:
        if not (self.quotas or self.exclude):
            raise problem(
                "empty_capacity",
                "a capacity policy needs `quotas` or `exclude`",
                "add e.g. `quotas: [{provider: aws, region: eu-central-1, max_vcpu: 512}]`",
            )
        seen: dict[tuple[str, str, str | None], int] = {}
        for i, q in enumerate(self.quotas):
            key = (q.provider, q.region, q.family)
            if key in seen:
                raise problem(
                    "duplicate_quota",
                    f"a second quota for {q.provider}:{q.region}"
                    + (f" family {q.family}" if q.family else "")
                    + f" (the first is quotas[{seen[key]}])",
                    "keep one quota per provider, region and family",
                    at=f"quotas.{i}",
                )
            seen[key] = i
        return self

    def excludes(self, provider: str, region: str) -> bool:
        return any(e.provider == provider and e.region in (None, region) for e in self.exclude)

    def quota_for(self, provider: str, region: str, family: str | None) -> int | None:
        """The tightest vCPU cap on (provider, region, family): a quota without a family
        caps every family of the region, so both kinds apply."""
        caps = [
            q.max_vcpu
            for q in self.quotas
            if q.provider == provider and q.region == region and q.family in (None, family)
        ]
        return min(caps) if caps else None


class SpreadPolicy(SelectedPolicy):
    """Replicas of each selected workload span at least k regions, or k zones."""

    type: Literal["spread"]
    min_regions: AtLeastTwo | None = None
    min_zones: AtLeastTwo | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SpreadPolicy:
        if self.min_regions is None and self.min_zones is None:
            raise problem(
                "spread_missing",
                "a spread policy needs `min_regions` or `min_zones`",
                "add `min_zones: 2` (or `min_regions: 2`)",
            )
        if self.min_regions is not None and self.min_zones is not None:
            raise problem(
                "spread_both",
                "`min_regions` and `min_zones` are both given",
                "keep one of them; write two policies if you need both",
                at="min_zones",
            )
        return self
