"""`optimizer policy validate|schema|explain`: the policy file, checked before a plan."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from optimizer.context import AppContext, pass_app
from store.errors import ConfigError


@click.group()
def policy() -> None:
    """Check, describe and explain placement and tiering policies (YAML, version 1)."""


def _policy_file(app: AppContext, given: Path | None) -> Path:
    """--policies wins; else `[policies] path` of the config; else a clear error."""
    from optimizer.config import load_config

    if given is not None:
        return given
    configured = load_config(app.config_path).policies_path()
    if configured is None:
        raise ConfigError(
            "no policy file given",
            fix="pass --policies FILE, or set [policies] path in optimizer.toml (--config)",
        )
    return configured


@policy.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@pass_app
def validate(app: AppContext, paths: tuple[Path, ...]) -> None:
    """Validate policy files (default: the configured one): errors name file, line,
    policy and field, with a fix. Exit code 2 on the first invalid file.
    """
    from policies import load_policies, policies_sha256

    paths = paths or (_policy_file(app, None),)
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


@policy.command()
@click.argument("workload")
@click.option(
    "--policies",
    "policies_path",
    type=click.Path(path_type=Path),
    help="The policy file (YAML, version 1). Default: [policies] path of the config.",
)
@click.option("--top", default=5, show_default=True, help="How many cheapest eligible offers.")
@pass_app
def explain(app: AppContext, workload: str, policies_path: Path | None, top: int) -> None:
    """Which policies apply to WORKLOAD and which offers each one rules out.

    Offers are the store's current prices that fit the workload's vCPU and memory per
    replica. Latency to regions never measured is estimated and marked so.
    """
    from optimizer.config import load_config
    from optimizer.explain import explain_workload
    from policies import load_policies

    parsed = load_policies(_policy_file(app, policies_path))
    sizing = load_config(app.config_path).sizing.settings()  # as `optimizer plan` sizes
    result = explain_workload(app.engine(), parsed, workload, top=top, sizing=sizing)
    if app.json_output:
        payload = dict(result.__dict__)
        payload["side_constraints"] = [r.__dict__ for r in result.side_constraints]
        app.emit_json(payload)
        return
    w = result.workload
    app.out.print(
        f"[bold]{w['name']}[/]: {w['current']}; {w['vcpu']} vCPU, {w['memory_gib']} GiB; "
        f"owner {w['owner']}, data {w['data_classification']}, "
        f"users in {', '.join(w['user_regions']) or '-'}"
    )
    if not result.applicable:
        app.out.print("No policy applies to this workload.")
    table = Table(show_header=True, title="Policies that apply")
    for column in ("policy", "type", "offers ruled out", "why (examples)"):
        table.add_column(column)
    for p in result.applicable:
        table.add_row(
            p["name"],
            p["type"],
            str(result.ruled_out_by.get(p["name"], 0)),
            "; ".join(result.examples.get(p["name"], [])),
        )
    app.out.print(table)
    for constraint in result.side_constraints:
        app.out.print(f"  {constraint.policy} ({constraint.type}): {constraint.text}")
    app.out.print(
        f"{result.eligible:,} of {result.offers_considered:,} fitting offers are eligible."
    )
    for note in result.notes:
        app.out.print(f"  note: {note}")
    if result.cheapest:
        app.out.print(
            "Cheapest eligible: "
            + "; ".join(f"{c['offer']} ${c['usd_per_hour']}/h" for c in result.cheapest)
        )


COMMANDS = [policy]
