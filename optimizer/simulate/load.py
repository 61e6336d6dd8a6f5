"""Reading a scenario file: YAML with line numbers → `Scenario`, or one clear error.

Like the policy loader (`policies.loader`), a mistake names the file, the line, the change
and the key, with a fix; unknown keys get a "did you mean" from the known ones.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from optimizer.simulate import scenario as models
from optimizer.simulate.scenario import CHANGE_KINDS, Scenario
from policies.models import POLICY_CLASSES
from policies.yaml_tree import Tree, YamlSyntaxError, compose
from store.errors import ConfigError

DOCS = "see docs/simulate.md for the scenario format and examples/scenarios/ for examples"


class ScenarioError(ConfigError):
    """A scenario that cannot be used (exit code 2)."""


@dataclass(frozen=True)
class LoadedScenario:
    """The validated scenario, its file, and for each change its raw mapping (inline
    policies are added as written) and its line."""

    scenario: Scenario
    source: str
    base_dir: Path
    raw_changes: tuple[dict[str, Any], ...]
    lines: tuple[int | None, ...]

    def where(self, index: int) -> str:
        line = self.lines[index]
        return f"{self.source}:{line}" if line else self.source

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def load_scenario(path: str | Path) -> LoadedScenario:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            f"scenario file not found: {source}", fix="check the path; examples/scenarios/ has some"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read {source}: {exc}", fix="save it as UTF-8 text") from None
    return parse_scenario(text, source, Path(path).resolve().parent)


def parse_scenario(text: str, source: str, base_dir: Path) -> LoadedScenario:
    try:
        tree = compose(text)
    except YamlSyntaxError as exc:
        raise ScenarioError(
            f"{source}:{exc.line}: YAML syntax error at column {exc.column}: {exc.problem}",
            where=f"{source}:{exc.line}",
            fix=exc.fix,
        ) from None
    if tree is None or not isinstance(tree.data, dict):
        raise ScenarioError(
            f"{source}: not a scenario (expected a mapping with name and changes)", fix=DOCS
        )
    if tree.duplicates:
        d = tree.duplicates[0]
        raise ScenarioError(
            f"{source}:{d.line}: '{d.path[-1]}' is written twice (first on line {d.first_line})",
            where=f"{source}:{d.line}",
            fix="delete one of them: YAML would silently keep only the last",
        )
    try:
        scenario = Scenario.model_validate(tree.data)
    except ValidationError as exc:
        raise _located(exc, tree, source) from None
    raw = [c if isinstance(c, dict) else {} for c in tree.data.get("changes") or []]
    lines = tuple(tree.line_of(("changes", i)) for i in range(len(raw)))
    return LoadedScenario(scenario, source, base_dir, tuple(raw), lines)


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """pydantic's location without the union tags it inserts: keep the steps that exist
    in the YAML data."""
    out: list[str | int] = []
    here = data
    for step in loc:
        found = (isinstance(here, dict) and step in here) or (
            isinstance(here, list) and isinstance(step, int) and step < len(here)
        )
        if found:
            here = here[step]
            out.append(step)
        elif not isinstance(here, dict | list):
            break
    return tuple(out)


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _known_keys() -> list[str]:
    keys: set[str] = set()
    classes: list[type[BaseModel]] = [
        models.Scenario,
        models.Change,
        models.PriceChange,
        models.StoragePriceChange,
        models.DemandChange,
        models.WorkloadSelector,
        models.RegionLoss,
        models.PolicyEdit,
        models.NewCommitment,
        *POLICY_CLASSES,
    ]
    for cls in classes:
        for name, f in cls.model_fields.items():
            keys.add(f.alias or name)
    return sorted(keys)


def _echo(err: Any, exc: ValidationError) -> bool:
    """pydantic also calls a list "too short" when its only items failed: drop that echo."""
    loc = err["loc"]
    return err["type"] == "too_short" and any(
        len(o["loc"]) > len(loc) and o["loc"][: len(loc)] == loc for o in exc.errors()
    )


def _located(exc: ValidationError, tree: Tree, source: str) -> ScenarioError:
    errors = [e for e in exc.errors(include_url=False) if not _echo(e, exc)]
    first = min(errors, key=lambda e: tree.line_of(_data_path(tree.data, tuple(e["loc"]))) or 0)
    loc = tuple(first["loc"])
    path = _data_path(tree.data, loc)
    line = tree.line_of(path)
    msg = str(first["msg"]).removeprefix("Value error, ")
    fix = DOCS
    if first["type"] == "extra_forbidden":
        key = str(loc[-1])
        path = path if path[-1:] == (key,) else (*path, key)
        msg = f"unknown key '{key}'"
        if len(path) == 3 and path[0] == "changes":
            fix = f"a change is one of: {', '.join(CHANGE_KINDS)}"
        close = difflib.get_close_matches(key, _known_keys(), n=1)
        if close:
            fix = f"did you mean '{close[0]}'? ({fix})"
    elif first["type"] == "missing":
        path = (*path, *(p for p in loc[-1:] if isinstance(p, str)))
        msg = f"'{loc[-1]}' is required"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    where = f"{source}:{line}" if line else source
    return ScenarioError(f"{where}: {_dotted(path)}: {msg}{more}", where=where, fix=fix)
