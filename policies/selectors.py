"""Which workloads (or storage groups) a policy applies to.

One selector shape for every policy, so a user learns it once. All conditions given
must hold (AND); within one condition any listed value may match (OR); a policy with
no selector, or an empty one, applies to everything.

- `workloads`: globs on the name (`payments-*`), matched with `fnmatch` rules,
  case-sensitive. On `tiering` and `approval` policies the same globs match
  storage-group names as well.
- `tags`: tag key → value or list of values; values are globs too, so `"*"` only asks
  that the key be present. Keys and values are case-sensitive, as in AWS.
- `labels`: the same thing spelt the Kubernetes way. The store keeps Kubernetes labels
  and cloud tags in one `tags` column, so `labels` is a synonym of `tags`, not a second
  namespace; a selector gives one or the other, never both (two spellings of one
  condition in one place only invite contradictions).
- `data_classification`: values of the workload's classification (`eu-personal`).
- `owners`: owning teams.
- `providers`: aws, azure, gcp (the cloud a workload runs on today).

A key given with an empty list is refused rather than read as "matches nothing": a
policy that silently applies to no workload is worse than an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

from pydantic import model_validator

from policies.fields import FrozenModel, Providers, Text, TextList, problem


class Selector(FrozenModel):
    """A conjunction of conditions on a workload's name, tags, classification and owner."""

    workloads: TextList | None = None
    tags: dict[Text, TextList] | None = None
    labels: dict[Text, TextList] | None = None
    data_classification: TextList | None = None
    owners: TextList | None = None
    providers: Providers | None = None

    @model_validator(mode="after")
    def _one_spelling_of_tags(self) -> Selector:
        if self.tags is not None and self.labels is not None:
            raise problem(
                "tags_and_labels",
                "both `tags` and `labels` are given",
                "labels are stored as tags: move every condition under one of them",
                at="labels",
            )
        return self

    def tag_conditions(self) -> Mapping[str, tuple[str, ...]]:
        """The tag conditions, whichever spelling (`tags` or `labels`) the file used."""
        return self.tags or self.labels or {}

    def is_everything(self) -> bool:
        """True when the selector has no condition (the policy applies to all)."""
        return self == Selector()

    def matches(
        self,
        name: str,
        tags: Mapping[str, object] | None = None,
        data_classification: str | None = None,
        owner: str | None = None,
        provider: str | None = None,
    ) -> bool:
        """Whether a workload (or storage group) with these facts is selected.

        A condition on a fact the workload lacks (no owner, no such tag) does not match.
        """
        if self.workloads and not _any_glob(name, self.workloads):
            return False
        present = tags or {}
        for key, patterns in self.tag_conditions().items():
            value = present.get(key)
            if value is None or not _any_glob(_tag_text(value), patterns):
                return False
        if self.data_classification and not _any_glob(
            data_classification, self.data_classification
        ):
            return False
        if self.owners and not _any_glob(owner, self.owners):
            return False
        return not (self.providers and provider not in self.providers)


def _any_glob(value: str | None, patterns: tuple[str, ...]) -> bool:
    return value is not None and any(fnmatchcase(value, p) for p in patterns)


def _tag_text(value: object) -> str:
    """Tags arrive as JSON: compare their text, with booleans spelt as JSON spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
