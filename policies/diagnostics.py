"""pydantic's validation errors, re-told in the file's terms: line, policy, key, fix.

pydantic reports `('policies', 3, 'residency', 'allow', 'jurisdictions', 0)` and
"Input should be ...". A person editing YAML needs `policies.yaml:12: policy
'eu-data-stays-in-eu' (residency): allow.jurisdictions[0]: 'EUU' is not a jurisdiction`
and what to write instead. Rules raised by our own validators carry their fix in the
error context (`policies.fields.problem`); pydantic's built-in errors get theirs here.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from policies import vocab
from policies.models import POLICY_TYPES, PolicyFile
from policies.yaml_tree import Path, Tree

_INTERNAL_LOC = re.compile(r"[\[\]()]")
_EXAMPLES = {
    "version": "version: 1",
    "policies": "policies: []",
    "name": "name: eu-data-stays-in-eu",
    "allow": "allow: {jurisdictions: [EU]}",
    "from": "from: user_regions",
    "max_rtt_ms": "max_rtt_ms: 40",
    "provider": "provider: aws",
    "region": "region: eu-central-1",
    "max_vcpu": "max_vcpu: 512",
    "kind": "kind: reserved-instance",
    "expires": "expires: 2027-06-30",
    "kinds": "kinds: [tiering]",
    "auto_approve": "auto_approve: [{kinds: [tiering], max_bytes: 500GiB}]",
}
_BUILTIN = {  # pydantic error type → (message with {value}, fix)
    "int_type": ("expected a whole number, got {value}", "write a whole number, e.g. 4"),
    "int_parsing": ("expected a whole number, got {value}", "write a whole number, e.g. 4"),
    "int_from_float": ("expected a whole number, got {value}", "write a whole number, e.g. 4"),
    "float_type": ("expected a number, got {value}", "write a number, e.g. 0.5"),
    "float_parsing": ("expected a number, got {value}", "write a number, e.g. 0.5"),
    "finite_number": ("{value} is not a finite number", "write an ordinary number"),
    "decimal_type": ("expected US dollars, got {value}", "write a plain number, e.g. 250"),
    "decimal_parsing": ("{value} is not an amount", "write a plain number, e.g. 99.50"),
    "bool_type": ("expected true or false, got {value}", "write true or false"),
    "bool_parsing": ("expected true or false, got {value}", "write true or false"),
    "string_type": ("expected text, got {value}", "write a single word or quoted text"),
    "string_too_short": ("is empty", "write a value, or remove the key"),
    "too_short": ("is empty", "list at least one value, or remove the key"),
    "tuple_type": ("expected a list, got {value}", "write a list: [a, b], or `- a` lines"),
    "list_type": ("expected a list, got {value}", "write a list: [a, b], or `- a` lines"),
    "dict_type": ("expected a mapping, got {value}", "indent `key: value` lines under it"),
    "model_type": ("expected a mapping, got {value}", "indent `key: value` lines under it"),
    "model_attributes_type": (
        "expected a mapping, got {value}",
        "indent `key: value` lines under it",
    ),
    "date_type": ("expected a date, got {value}", "write a date as YYYY-MM-DD"),
    "date_parsing": ("{value} is not a date", "write a date as YYYY-MM-DD, e.g. 2027-06-30"),
    "date_from_datetime_parsing": (
        "{value} is not a date",
        "write a date as YYYY-MM-DD, e.g. 2027-06-30",
    ),
    "date_from_datetime_inexact": ("{value} has a time of day", "write only the date"),
}
_BOUNDS = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file, located as precisely as the file allows."""

    line: int | None
    policy: str | None  # "policy 'eu-data' (residency)", or None outside any policy
    field: str  # "allow.jurisdictions[0]", or "" for the policy (or file) as a whole
    message: str
    fix: str

    def render(self, source: str) -> str:
        parts = [f"{source}:{self.line}" if self.line else source]
        parts += [p for p in (self.policy, self.field) if p]
        return ": ".join([*parts, self.message])


def from_validation_error(exc: ValidationError, tree: Tree) -> list[Problem]:
    """Every error, located, in file order (the first one is what a human fixes first)."""
    errors = exc.errors(include_url=False)
    problems = {_one(err, tree) for err in errors if not _echo(err, errors)}
    return sorted(problems, key=lambda p: (p.line or 0, p.policy or "", p.field))


def _echo(err: ErrorDetails, errors: list[ErrorDetails]) -> bool:
    """pydantic also calls a list "too short" when its only items failed: drop that echo."""
    loc = err["loc"]
    return err["type"] == "too_short" and any(
        len(o["loc"]) > len(loc) and o["loc"][: len(loc)] == loc for o in errors
    )


def locate(tree: Tree, path: Path, message: str, fix: str, line: int | None = None) -> Problem:
    """A problem at a path of the YAML data (keys as written, list indexes)."""
    policy, field = _policy_and_field(tree, path)
    return Problem(line or tree.line_of(path), policy, field, message, fix)


def _one(err: ErrorDetails, tree: Tree) -> Problem:
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    model_loc: Path = tuple(err["loc"])
    if "at" in ctx:
        model_loc += tuple(int(p) if p.isdigit() else p for p in str(ctx["at"]).split("."))
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        model_loc += ("type",)
    data_loc = _data_path(tree, model_loc)
    message, fix = _describe(err, ctx, model_loc, data_loc, tree)
    return locate(tree, data_loc, message, fix)


def _raw_policy(tree: Tree, path: Path) -> tuple[int, dict[str, Any]] | None:
    if len(path) < 2 or path[0] != "policies" or not isinstance(path[1], int):
        return None
    items = tree.data.get("policies") if isinstance(tree.data, dict) else None
    if isinstance(items, list) and path[1] < len(items) and isinstance(items[path[1]], dict):
        return path[1], items[path[1]]
    return path[1], {}


def _type_of(raw: dict[str, Any]) -> str | None:
    word = raw.get("type")
    return word if isinstance(word, str) and word in POLICY_TYPES else None


def _data_path(tree: Tree, loc: Path) -> Path:
    """The model path without the union tag pydantic inserts, nor its internal parts."""
    found = _raw_policy(tree, loc)
    if found and len(loc) > 2 and loc[2] == _type_of(found[1]):
        loc = loc[:2] + loc[3:]
    return tuple(p for p in loc if isinstance(p, int) or not _INTERNAL_LOC.search(p))


def _policy_and_field(tree: Tree, path: Path) -> tuple[str | None, str]:
    found = _raw_policy(tree, path)
    if found is None:
        return None, _dotted(path)
    index, raw = found
    name, word = raw.get("name"), _type_of(raw)
    label = f"policy '{name}'" if isinstance(name, str) and name else f"policies[{index}]"
    return label + (f" ({word})" if word else ""), _dotted(path[2:])


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (an empty value)"
    return f"'{value}'" if isinstance(value, str) else str(value)


def _describe(
    err: ErrorDetails, ctx: dict[str, Any], model_loc: Path, data_loc: Path, tree: Tree
) -> tuple[str, str]:
    kind, value = err["type"], err.get("input")
    key = data_loc[-1] if data_loc else None
    if "fix" in ctx:
        return err["msg"], str(ctx["fix"])
    if kind == "extra_forbidden":
        return f"unknown key '{key}'", _unknown_key_fix(str(key), model_loc, tree)
    if kind == "missing":
        example = _EXAMPLES.get(str(key), f"{key}: ...")
        unique = "every policy needs a unique name: " if key == "name" else ""
        return f"'{key}' is missing", f"{unique}add `{example}`"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        near = vocab.suggest(str(value), options) if isinstance(value, str) else None
        hint = f"did you mean '{near}'? " if near else ""
        return f"{_show(value)} is not one of {vocab.one_of(options)}", hint + (
            f"write one of: {', '.join(options)}"
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        types = list(POLICY_TYPES)
        tag = ctx.get("tag")
        near = vocab.suggest(str(tag), types) if tag else None
        hint = f"did you mean '{near}'? " if near else ""
        msg = f"'{tag}' is not a policy type" if tag else "the policy has no `type`"
        return msg, f"{hint}write `type:` with one of {', '.join(types)}"
    if data_loc == () and kind in ("model_type", "dict_type"):
        return "the file is not a mapping", "start the file with `version: 1` and `policies:`"
    bound = next((b for b in _BOUNDS if b in ctx), None)
    if bound:
        limit = f"{_BOUNDS[bound]} {ctx[bound]}"
        return f"{_show(value)} is not {limit}", f"write a value {limit}"
    message, fix = _BUILTIN.get(kind, (err["msg"], "see `optimizer policy schema`"))
    if kind == "string_type" and isinstance(value, int | float):
        fix = f"quote it: '{value}'"
    return message.replace("{value}", _show(value)), fix


def _unknown_key_fix(key: str, model_loc: Path, tree: Tree) -> str:
    model = _model_at(model_loc[:-1])
    allowed = _keys_of(model) if model else []
    at_policy = len(model_loc) == 4 and model_loc[0] == "policies"
    word = str(model_loc[2]) if at_policy else ""
    near = vocab.suggest(key, allowed)
    hint = f"did you mean '{near}'? " if near else ""
    if not near and at_policy:
        owners = [t for t, cls in POLICY_TYPES.items() if key in _keys_of(cls)]
        if key == "selector":
            hint = f"{word} policies apply to the whole estate and take no selector; "
        elif owners:
            hint = f"`{key}` belongs to {vocab.one_of(owners)} policies; "
    if at_policy:
        owner = f"a {word} policy"
    elif len(model_loc) > 1:
        owner = f"`{_dotted(_data_path(tree, model_loc[:-1])[2:]) or model_loc[-2]}`"
    else:
        owner = "the file"
    return f"{hint}{owner} takes: {', '.join(allowed)}"


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(loc: Path) -> type[BaseModel] | None:
    """The model class that validates the value at a pydantic error location."""
    tp: Any = PolicyFile
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = next((f for n, f in tp.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (tuple, list) and isinstance(part, int):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif isinstance(part, str) and part in POLICY_TYPES:
            tp = POLICY_TYPES[part]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and Optional (X | None) down to the type that validates."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp
