"""The scenario file: a name, a description and a list of changes, as pydantic models.

Each change is a mapping with exactly one key saying what changes (`price`,
`storage_price`, `demand`, `lose_region`, `lose_cloud`, `add_policy`, `add_policies_from`,
`remove_policy`, `change_policy`, `replace_policies`, `add_commitment`), so a scenario
reads like a list of sentences and a typo is caught by `extra="forbid"`. Inline policies
use the policy file's own models (`policies.Policy`), so they mean exactly what they mean
in a policy file. Reading and error messages with YAML lines: `optimizer.simulate.load`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policies import Commitment, Policy

Cloud = Literal["aws", "azure", "gcp"]
PriceOption = Literal["on_demand", "spot", "commitment"]  # commitment = commit_1y | commit_3y
CHANGE_KINDS = (
    "price",
    "storage_price",
    "demand",
    "lose_region",
    "lose_cloud",
    "add_policy",
    "add_policies_from",
    "remove_policy",
    "change_policy",
    "replace_policies",
    "add_commitment",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _one_of(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        shown = " or ".join(f"`{n}`" for n in names)
        found = f" (found {', '.join(given)})" if given else ""
        raise ValueError(f"{what} needs exactly one of {shown}{found}")


class PriceChange(_Strict):
    """Compute prices of the current offers that match every key given."""

    cloud: Cloud | None = None
    region: str | None = None
    family: str | None = None
    instance_type: str | None = Field(default=None, description="exact, or a glob: m5.*")
    purchase_option: PriceOption | None = None
    multiply: Decimal | None = Field(default=None, gt=0)
    set_usd_per_hour: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _how(self) -> PriceChange:
        _one_of(self, ("multiply", "set_usd_per_hour"), "a price change")
        return self


class StoragePriceChange(_Strict):
    """Storage class prices (USD per GB-month) that match every key given."""

    cloud: Cloud | None = None
    region: str | None = None
    tier: str | None = None
    multiply: Decimal | None = Field(default=None, gt=0)
    set_usd_per_gb_month: Decimal | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _how(self) -> StoragePriceChange:
        _one_of(self, ("multiply", "set_usd_per_gb_month"), "a storage price change")
        return self


class WorkloadSelector(_Strict):
    """Which workloads grow: `all: true`, or any combination (AND) of owners, tags and
    name globs."""

    all: bool = False
    owners: tuple[str, ...] | None = None
    tags: dict[str, str | list[str]] | None = None
    names: tuple[str, ...] | None = Field(default=None, description="globs: checkout-*")

    @model_validator(mode="after")
    def _something(self) -> WorkloadSelector:
        narrowed = any(v is not None for v in (self.owners, self.tags, self.names))
        if self.all == narrowed:
            raise ValueError(
                "write `all: true`, or narrow by `owners`, `tags` and/or `names` (not both)"
            )
        return self


class DemandChange(_Strict):
    """Demand growth (or shrinkage): `growth_pct: 40` or `factor: 1.4`. `grow: size` makes
    each replica bigger (utilization and recorded size scale), `grow: replicas` adds
    replicas (rounded up)."""

    select: WorkloadSelector
    growth_pct: Decimal | None = Field(default=None, gt=-100)
    factor: Decimal | None = Field(default=None, gt=0)
    grow: Literal["size", "replicas"] = "size"

    @model_validator(mode="after")
    def _how(self) -> DemandChange:
        _one_of(self, ("growth_pct", "factor"), "a demand change")
        return self

    @property
    def multiplier(self) -> Decimal:
        if self.factor is not None:
            return self.factor
        assert self.growth_pct is not None
        return 1 + self.growth_pct / 100


class RegionLoss(_Strict):
    """A region that disappears: its offers go, and workloads there must move."""

    cloud: Cloud
    region: str


class PolicyEdit(_Strict):
    """Keys to set on an existing policy (`null` removes a key)."""

    name: str
    set: dict[str, Any] = Field(min_length=1)


class NewCommitment(Commitment):
    """A commitment bought in the scenario, with what it costs: `discount_pct` off the
    on-demand price of what it covers (its monthly fee is counted in the scenario's cost)."""

    discount_pct: Decimal = Field(gt=0, lt=100)


class Change(_Strict):
    """One change; exactly one key."""

    price: PriceChange | None = None
    storage_price: StoragePriceChange | None = None
    demand: DemandChange | None = None
    lose_region: RegionLoss | None = None
    lose_cloud: Cloud | None = None
    add_policy: Policy | None = None
    add_policies_from: str | None = Field(default=None, description="a policy file path")
    remove_policy: str | None = None
    change_policy: PolicyEdit | None = None
    replace_policies: str | None = Field(default=None, description="a policy file path")
    add_commitment: NewCommitment | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Change:
        _one_of(self, CHANGE_KINDS, "a change")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CHANGE_KINDS if getattr(self, k) is not None)

    @property
    def value(self) -> Any:
        return getattr(self, self.kind)


class Scenario(_Strict):
    """A what-if: the changes applied, in order, to a copy of the store and policies."""

    name: str = Field(min_length=1)
    description: str = ""
    changes: tuple[Change, ...] = Field(min_length=1)


def describe(change: Change) -> str:
    """One line in words, for the report."""
    v = change.value
    if isinstance(v, PriceChange | StoragePriceChange):
        keys = v.model_dump(exclude_none=True)
        how = (
            f"× {keys.pop('multiply')}"
            if "multiply" in keys
            else f"= {next(keys.pop(k) for k in list(keys) if k.startswith('set_'))}"
        )
        where = ", ".join(f"{k} {val}" for k, val in keys.items()) or "everywhere"
        return f"{change.kind.replace('_', ' ')} {how} ({where})"
    if isinstance(v, DemandChange):
        sel = v.select.model_dump(exclude_none=True, exclude_defaults=True) or {"all": True}
        return f"demand × {v.multiplier} by {v.grow} for {sel}"
    if isinstance(v, RegionLoss):
        return f"lose region {v.cloud}:{v.region}"
    if isinstance(v, NewCommitment):
        size = f"{v.vcpu} vCPU" if v.vcpu is not None else f"{v.usd_per_hour} USD/h"
        return f"buy {v.kind} {v.provider} {size} at {v.discount_pct}% off, until {v.expires}"
    if isinstance(v, BaseModel):
        name = getattr(v, "name", "")
        return f"{change.kind.replace('_', ' ')} {name}".strip()
    return f"{change.kind.replace('_', ' ')} {v}"
