"""What every policy has: a unique name, an optional description, an on/off switch.

`type` is declared here (as plain text) so that it comes right after the common keys in
the JSON Schema and in dumps; each policy class narrows it to its own literal, which is
what the discriminated union in `policies.models` keys on.
"""

from __future__ import annotations

from pydantic import Field

from policies.fields import FrozenModel, Slug
from policies.selectors import Selector


class PolicyBase(FrozenModel):
    """The keys common to every policy."""

    name: Slug = Field(description="Unique in the file; a slug such as 'eu-data-stays-in-eu'.")
    type: str
    description: str | None = Field(default=None, description="Why this policy exists.")
    enabled: bool = Field(default=True, description="false keeps the policy but ignores it.")


class SelectedPolicy(PolicyBase):
    """A policy that applies to the workloads its selector picks (all, when absent)."""

    selector: Selector = Field(
        default_factory=Selector, description="Which workloads this applies to (AND)."
    )

    def applies_to(
        self,
        name: str,
        tags: dict[str, object] | None = None,
        data_classification: str | None = None,
        owner: str | None = None,
        provider: str | None = None,
    ) -> bool:
        """Enabled and selected."""
        return self.enabled and self.selector.matches(
            name, tags, data_classification, owner, provider
        )
