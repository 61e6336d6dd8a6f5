"""`optimizer policy validate|schema|explain`: the policy file, checked before a plan."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from optimizer.context import AppContext, pass_app
from store.errors import StageNotBuilt


@click.group()
def policy() -> None:
    """Check, describe and explain placement and tiering policies (YAML, version 1)."""


@policy.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_app
def validate(app: AppContext, paths: tuple[Path, ...]) -> None:
    """Validate policy files: errors name file, line, policy and field, with a fix.

    Exit code 2 on the first invalid file.
    """
    from policies import load_policies, policies_sha256

    results = []
    for path in paths:
        parsed = load_policies(path)
        results.append(
            {
                "path": str(path),
                "sha256": policies_sha256(path),
                "version": parsed.version,
                "policies": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "enabled": p.enabled,
                        "description": p.description,
                    }
                    for p in parsed.policies
                ],
            }
        )
    if app.json_output:
        app.emit_json(results[0] if len(results) == 1 else results)
        return
    for result in results:
        policies = result["policies"]
        assert isinstance(policies, list)
        table = Table(title=f"{result['path']}: valid, {len(policies)} policies", show_header=True)
        for column in ("name", "type", "enabled", "description"):
            table.add_column(column)
        for p in policies:
            table.add_row(
                p["name"], p["type"], "yes" if p["enabled"] else "no", p["description"] or ""
            )
        app.out.print(table)


@policy.command()
def schema() -> None:
    """Print the JSON Schema of the policy file (for editors and CI checks)."""
    from policies import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@policy.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def explain() -> None:
    """Which policies apply to a workload and which offers each rules out. Not built yet."""
    raise StageNotBuilt(
        "`optimizer policy explain` needs the placement problem builder (issue #3)",
        fix="use `optimizer policy validate FILE` to check a policy file meanwhile",
    )


COMMANDS = [policy]
