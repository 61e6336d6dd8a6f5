"""A scenario's policy changes: policies added, removed, changed or replaced, and
commitments bought, applied to the raw policy list and validated as one policy file.

Working on the raw mappings (as written in YAML) rather than on the frozen models means
a `change_policy: {set: ...}` edit is validated exactly as if the user had edited the
file, with the policy models' own messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from optimizer.simulate.load import LoadedScenario, ScenarioError
from optimizer.simulate.scenario import NewCommitment, PolicyEdit
from policies import PolicyFile, load_policies
from policies.yaml_tree import compose

COMMITMENT_PREFIX = "scenario-commitment-"


def raw_policies(path: Path) -> list[dict[str, Any]]:
    """The policies of a (valid) policy file as written."""
    load_policies(path)  # the policy loader's own errors (file:line) for a bad file
    tree = compose(path.read_text(encoding="utf-8"))
    assert tree is not None and isinstance(tree.data, dict)
    return [dict(p) for p in tree.data.get("policies") or []]


def _index(policies: list[dict[str, Any]], name: str, where: str, what: str) -> int:
    for i, p in enumerate(policies):
        if p.get("name") == name:
            return i
    names = ", ".join(str(p.get("name")) for p in policies) or "none"
    raise ScenarioError(
        f"{where}: {what}: no policy named {name!r}",
        where=where,
        fix=f"policies in the base file: {names}",
    )


def _edit(policy: dict[str, Any], edit: PolicyEdit) -> dict[str, Any]:
    out = dict(policy)
    for key, value in edit.set.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def commitment_name(index: int) -> str:
    return f"{COMMITMENT_PREFIX}{index + 1}"


def edited_policies(base: Path, loaded: LoadedScenario) -> tuple[PolicyFile, list[str]]:
    """(the scenario's policy file, one note per policy change)."""
    policies = raw_policies(base)
    notes: list[str] = []
    for i, change in enumerate(loaded.scenario.changes):
        where, kind, v = loaded.where(i), change.kind, change.value
        if kind == "add_policy":
            policies.append(dict(loaded.raw_changes[i]["add_policy"]))
            notes.append(f"added policy {v.name}")
        elif kind == "add_policies_from":
            added = raw_policies(loaded.resolve(v))
            policies.extend(added)
            notes.append(f"added {len(added)} policies from {v}")
        elif kind == "replace_policies":
            policies = raw_policies(loaded.resolve(v))
            notes.append(f"policies replaced by the {len(policies)} of {v}")
        elif kind == "remove_policy":
            del policies[_index(policies, v, where, kind)]
            notes.append(f"removed policy {v}")
        elif kind == "change_policy":
            k = _index(policies, v.name, where, kind)
            policies[k] = _edit(policies[k], v)
            notes.append(f"changed policy {v.name}: {', '.join(v.set)}")
        elif isinstance(v, NewCommitment):
            item = v.model_dump(exclude={"discount_pct"}, exclude_none=True)
            policies.append({"name": commitment_name(i), "type": "commitments", "items": [item]})
            notes.append(f"bought commitment {commitment_name(i)}")
        else:
            continue
        _validate(policies, where, kind)
    return _validate(policies, loaded.source, "policies after every change"), notes


def _validate(policies: list[dict[str, Any]], where: str, what: str) -> PolicyFile:
    try:
        return PolicyFile.model_validate({"version": 1, "policies": policies})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = list(err["loc"])
        label = ""
        if len(loc) >= 2 and loc[0] == "policies" and isinstance(loc[1], int):
            raw = policies[loc[1]] if loc[1] < len(policies) else {}
            label = f"policy {raw.get('name')!r}: "
            loc = [p for p in loc[2:] if p != raw.get("type")]
        field = ".".join(str(p) for p in loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ScenarioError(
            f"{where}: {what}: {label}{field + ': ' if field else ''}{msg}",
            where=where,
            fix="the policies after this change must form a valid policy file "
            "(see docs/policies.md)",
        ) from None
