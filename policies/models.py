"""The policy file: `version: 1` and a list of policies, told apart by their `type`.

The models are keyed by the words users write in YAML (`max_share`, `change-budget`,
`from`), so an error path such as `allow.jurisdictions[0]` can be found in the file as
written. The policy classes themselves live in `placement_rules` (where a workload may
run) and `change_rules` (how much may change, and how).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import Field, field_validator, model_validator

from policies.base import PolicyBase
from policies.change_rules import (
    ApprovalPolicy,
    ChangeBudgetPolicy,
    CommitmentsPolicy,
    TieringPolicy,
)
from policies.fields import FrozenModel, problem
from policies.placement_rules import (
    CapacityPolicy,
    LatencyPolicy,
    ResidencyPolicy,
    SpotPolicy,
    SpreadPolicy,
)

Policy = Annotated[
    ResidencyPolicy
    | LatencyPolicy
    | SpotPolicy
    | CapacityPolicy
    | SpreadPolicy
    | ChangeBudgetPolicy
    | TieringPolicy
    | CommitmentsPolicy
    | ApprovalPolicy,
    Field(discriminator="type"),
]

POLICY_CLASSES: tuple[type[PolicyBase], ...] = (
    ResidencyPolicy,
    LatencyPolicy,
    SpotPolicy,
    CapacityPolicy,
    SpreadPolicy,
    ChangeBudgetPolicy,
    TieringPolicy,
    CommitmentsPolicy,
    ApprovalPolicy,
)


def _type_word(cls: type[PolicyBase]) -> str:
    return str(get_args(cls.model_fields["type"].annotation)[0])


# The YAML word (`change-budget`) → its class.
POLICY_TYPES: dict[str, type[PolicyBase]] = {_type_word(c): c for c in POLICY_CLASSES}

P = TypeVar("P", bound=PolicyBase)


class PolicyFile(FrozenModel):
    """A whole policy file, validated."""

    version: Literal[1] = Field(description="The policy file format; only 1 exists.")
    policies: tuple[Policy, ...] = Field(description="The policies; names are unique.")

    @field_validator("version", mode="before")
    @classmethod
    def _exact_version(cls, value: Any) -> Any:
        # pydantic's lax mode would read `version: true` or `1.0` as 1.
        if type(value) is not int or value != 1:
            raise problem(
                "version",
                f"version {value!r} is not supported",
                "write `version: 1` (the only policy format this optimizer reads)",
            )
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> PolicyFile:
        first: dict[str, int] = {}
        for i, policy in enumerate(self.policies):
            if policy.name in first:
                name = policy.name
                raise problem(
                    "duplicate_name",
                    f"the name '{name}' is already used by policies[{first[name]}]",
                    f"every policy needs a unique name: rename one of them, e.g. '{name}-2'",
                    at=f"policies.{i}.name",
                )
            first[policy.name] = i
        return self

    def active(self) -> tuple[PolicyBase, ...]:
        """The enabled policies, in file order."""
        return tuple(p for p in self.policies if p.enabled)

    def of_type(self, cls: type[P]) -> tuple[P, ...]:
        """The enabled policies of one class, e.g. `of_type(SpotPolicy)`."""
        return tuple(p for p in self.policies if isinstance(p, cls) and p.enabled)

    def get(self, name: str) -> PolicyBase | None:
        return next((p for p in self.policies if p.name == name), None)
