"""Policies about change itself: how much per run, storage tiering, commitments, approval.

These bound what a plan may recommend (change-budget), where storage may be re-tiered
(tiering), what capacity is already paid for (commitments), and which recommendations
need no human (approval). Several policies of one type combine by the strictest value.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from annotated_types import MinLen
from pydantic import BeforeValidator, Field, model_validator

from policies.base import PolicyBase, SelectedPolicy
from policies.fields import (
    ByteSize,
    Count,
    DurationMs,
    FrozenModel,
    Money,
    Number,
    PositiveCount,
    PositiveMoney,
    PositiveNumber,
    Provider,
    RegionName,
    Text,
    as_list,
    problem,
)

# `recommendation.kind` values in the store.
RecommendationKind = Literal["move", "resize", "purchase-option", "tiering"]
CommitmentKind = Literal["reserved-instance", "savings-plan", "cud"]
KIND_PROVIDERS: dict[str, tuple[str, ...]] = {
    "reserved-instance": ("aws", "azure"),
    "savings-plan": ("aws", "azure"),
    "cud": ("gcp",),
}


def _needs_one(model: FrozenModel, keys: tuple[str, ...], example: str) -> None:
    if not any(getattr(model, k) is not None for k in keys):
        raise problem(
            "nothing_set",
            "none of " + ", ".join(f"`{k}`" for k in keys) + " is given",
            f"give at least one, e.g. `{example}`",
        )


class ChangeBudgetPolicy(PolicyBase):
    """Anti-churn: how many moves and how much one-off spend a run may propose, and
    how good a single move must be (monthly saving, payback) to be worth it."""

    type: Literal["change-budget"]
    max_moves_per_run: Count | None = None
    max_one_off_usd_per_run: Money | None = None
    min_monthly_saving_usd: Money | None = None
    max_payback_days: PositiveNumber | None = None

    @model_validator(mode="after")
    def _something(self) -> ChangeBudgetPolicy:
        keys = (
            "max_moves_per_run",
            "max_one_off_usd_per_run",
            "min_monthly_saving_usd",
            "max_payback_days",
        )
        _needs_one(self, keys, "max_moves_per_run: 20")
        return self

    def worth_moving(self, monthly_saving_usd: Decimal, payback_days: float) -> bool:
        """Whether one move clears the per-move thresholds (the per-run ones are the
        solver's budget constraints)."""
        if self.min_monthly_saving_usd is not None and monthly_saving_usd < (
            self.min_monthly_saving_usd
        ):
            return False
        return self.max_payback_days is None or payback_days <= self.max_payback_days


class TieringPolicy(SelectedPolicy):
    """Where storage may be moved to colder tiers.

    `exclude` holds globs on `bucket` or `bucket/prefix`: a pattern excludes what it
    matches and everything under it (`logs` excludes the bucket, `logs/audit` excludes
    `logs/audit/2024/`). `max_retrieval_latency` is the first-byte SLO: tiers slower
    than it (archive tiers that need a restore) are never proposed.
    """

    type: Literal["tiering"]
    min_object_age_days: Count = 0
    max_retrieval_latency: DurationMs | None = None
    exclude: Annotated[tuple[Text, ...], BeforeValidator(as_list)] = ()

    @model_validator(mode="after")
    def _something(self) -> TieringPolicy:
        keys = {"min_object_age_days", "max_retrieval_latency", "exclude"}
        if not keys & self.model_fields_set:
            raise problem(
                "nothing_set",
                "a tiering policy needs `min_object_age_days`, `max_retrieval_latency` "
                "or `exclude`",
                "add e.g. `min_object_age_days: 30`",
            )
        return self

    def excludes(self, bucket: str, prefix: str = "") -> bool:
        path = f"{bucket}/{prefix.lstrip('/')}" if prefix else bucket
        return any(
            fnmatchcase(path, p) or fnmatchcase(path, p.rstrip("/") + "/*") for p in self.exclude
        )

    def admits_tier(self, first_byte_latency_ms: float | None) -> bool:
        """A tier whose first-byte latency is unknown is a millisecond-access tier."""
        if self.max_retrieval_latency is None or first_byte_latency_ms is None:
            return True
        return first_byte_latency_ms <= self.max_retrieval_latency


class Commitment(FrozenModel):
    """One reservation, savings plan or committed-use discount already bought.

    Resource commitments (`reserved-instance`, resource-based `cud`) give `vcpu`; spend
    commitments (`savings-plan`, spend-based `cud`) give `usd_per_hour`. The commitment
    covers usage up to and including its `expires` day.
    """

    kind: CommitmentKind
    provider: Provider
    region: RegionName | None = None
    family: Text | None = None
    instance_type: Text | None = None
    vcpu: PositiveCount | None = None
    usd_per_hour: PositiveMoney | None = None
    expires: date

    @model_validator(mode="after")
    def _consistent(self) -> Commitment:
        allowed = KIND_PROVIDERS[self.kind]
        if self.provider not in allowed:
            raise problem(
                "commitment_provider",
                f"a {self.kind} is not sold by {self.provider}",
                "AWS and Azure sell reserved-instance and savings-plan, GCP sells cud",
                at="kind",
            )
        if self.family is not None and self.instance_type is not None:
            raise problem(
                "family_and_type",
                "both `family` and `instance_type` are given",
                "keep `instance_type` for a size-specific commitment, `family` otherwise",
                at="instance_type",
            )
        if self.vcpu is not None and self.usd_per_hour is not None:
            raise problem(
                "size_twice",
                "both `vcpu` and `usd_per_hour` are given",
                "give `vcpu` for a resource commitment or `usd_per_hour` for a spend one",
                at="usd_per_hour",
            )
        self._check_size_and_region()
        return self

    def _check_size_and_region(self) -> None:
        if self.kind == "savings-plan" and self.vcpu is not None:
            raise problem(
                "commitment_size",
                "a savings-plan commits US dollars per hour, not vCPUs",
                "write `usd_per_hour:` (the hourly commitment) instead of `vcpu:`",
                at="vcpu",
            )
        if self.kind == "reserved-instance" and self.usd_per_hour is not None:
            raise problem(
                "commitment_size",
                "a reserved-instance commits vCPUs, not US dollars per hour",
                "write `vcpu:` (instances × vCPUs each) instead",
                at="usd_per_hour",
            )
        if self.vcpu is None and self.usd_per_hour is None:
            example = "usd_per_hour: 12.5" if self.kind == "savings-plan" else "vcpu: 64"
            raise problem(
                "commitment_size",
                f"the {self.kind} has no size",
                f"add `{example}`",
                at="vcpu" if self.kind != "savings-plan" else "usd_per_hour",
            )
        if self.kind in ("reserved-instance", "cud") and self.region is None:
            raise problem(
                "commitment_region",
                f"a {self.kind} is bought for one region",
                "add `region:`, e.g. `region: eu-central-1`",
                at="region",
            )

    def active_on(self, day: date) -> bool:
        return day <= self.expires


class CommitmentsPolicy(PolicyBase):
    """Commitments the solver treats as capacity at zero marginal price, up to what is
    committed: listed here, read from the store's billing data, or both."""

    type: Literal["commitments"]
    from_store: bool = False
    items: tuple[Commitment, ...] = ()

    @model_validator(mode="after")
    def _something(self) -> CommitmentsPolicy:
        if not self.from_store and not self.items:
            raise problem(
                "nothing_set",
                "no commitment is listed and `from_store` is false",
                "list `items:`, or write `from_store: true` to use what billing data shows",
            )
        return self


Kinds = Annotated[tuple[RecommendationKind, ...], MinLen(1), BeforeValidator(as_list)]


class AutoApproval(FrozenModel):
    """Recommendations of these kinds within every limit given need no human approval."""

    kinds: Kinds
    max_bytes: ByteSize | None = None
    max_monthly_saving_usd: Money | None = None
    max_payback_days: Number | None = None

    @model_validator(mode="after")
    def _limited(self) -> AutoApproval:
        if (self.max_bytes, self.max_monthly_saving_usd, self.max_payback_days) == (None,) * 3:
            raise problem(
                "unlimited",
                "an auto-approval rule without any limit would approve everything",
                "add `max_bytes`, `max_monthly_saving_usd` or `max_payback_days`",
            )
        return self

    def approves(
        self,
        kind: str,
        bytes_moved: int | None = None,
        monthly_saving_usd: Decimal | None = None,
        payback_days: float | None = None,
    ) -> bool:
        """A fact a limit needs but the recommendation lacks means "not approved"."""
        checks = (
            (self.max_bytes, bytes_moved),
            (self.max_monthly_saving_usd, monthly_saving_usd),
            (self.max_payback_days, payback_days),
        )
        return kind in self.kinds and all(
            limit is None or (fact is not None and fact <= limit) for limit, fact in checks
        )


class ApprovalPolicy(SelectedPolicy):
    """Rules for auto-approval; anything no rule approves waits for a human."""

    type: Literal["approval"]
    auto_approve: tuple[AutoApproval, ...] = Field(min_length=1)
