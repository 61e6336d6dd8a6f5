"""`optimizer simulate SCENARIO.yaml`: plan a what-if on a copy of the store and print
it beside the baseline. Never writes the live store (no plan, recommendation or audit
event): a what-if is a question, not a state change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from optimizer.commands.plan import _native_stdout_to_stderr
from optimizer.commands.policy import _policy_file
from optimizer.context import AppContext, pass_app
from optimizer.progress import progress_bar

SHOWN = 15  # workloads listed in the text output; --json lists them all


@click.command()
@click.argument(
    "scenario_paths",
    metavar="SCENARIO.yaml...",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path),
)
@click.option(
    "--policies",
    "policies_path",
    type=click.Path(path_type=Path),
    help="The baseline policy file. Default: [policies] path of the config.",
)
@click.option(
    "--time-limit",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds the solver may use for EACH plan (the baseline and each scenario).",
)
@pass_app
def simulate(
    app: AppContext, scenario_paths: tuple[Path, ...], policies_path: Path | None, time_limit: float
) -> None:
    """Plan SCENARIO.yaml (price changes, demand growth, a region or cloud lost, policy
    changes, commitments bought) on a copy of the store and print it beside the baseline:
    monthly cost per cloud, moves, savings, binding policies and infeasible workloads.

    Several scenarios share one baseline plan (--json then prints a list). The live store
    is only read: simulate records no plan, recommendation or audit event. See
    docs/simulate.md for the scenario format.
    """
    from optimizer.config import load_config
    from optimizer.simulate.load import load_scenario
    from optimizer.simulate.run import STEPS, plan_baseline
    from optimizer.simulate.run import simulate as run

    scenarios = [load_scenario(p) for p in scenario_paths]  # every file checked first
    base = _policy_file(app, policies_path)
    sizing = load_config(app.config_path).sizing.settings()
    engine = app.engine()
    reports = []
    steps = STEPS * len(scenarios) + (1 if len(scenarios) > 1 else 0)
    with _native_stdout_to_stderr(), progress_bar(app, "Simulating", steps) as advance:
        baseline = None
        if len(scenarios) > 1:
            baseline = plan_baseline(engine, base, time_limit, sizing)
            advance(1)
        for loaded in scenarios:
            reports.append(run(engine, loaded, base, time_limit, sizing, advance, baseline))
    if app.json_output:
        app.emit_json(reports[0] if len(reports) == 1 else reports)
        return
    for i, report in enumerate(reports):
        if i:
            app.out.print()
        _print(app, report)


def _row(table: Table, label: str, a: Any, b: Any, delta: Any = "") -> None:
    table.add_row(label, *("-" if v is None else str(v) for v in (a, b, delta)))


def _blank(outcome: dict[str, Any]) -> dict[str, Any]:
    """An infeasible side has no plan: its figures show as "-", not as zeros."""
    if outcome["status"] != "infeasible":
        return outcome
    keep = ("status", "infeasible", "unplaced", "binding", "commitments", "error")
    return {k: (v if k in keep else None) for k, v in outcome.items()} | {"per_cloud": {}}


def _print(app: AppContext, r: dict[str, Any]) -> None:
    s, d = r["scenario"], r["delta"]
    a, b = _blank(r["baseline"]), _blank(r["what_if"])
    app.out.print(f"[bold]{s['name']}[/bold]: {s['description']}".rstrip(": "))
    for line in s["applied"]:
        app.out.print(f"  • {line}", markup=False)
    t = Table(show_header=True, title="baseline vs scenario (USD per month unless one-off)")
    for col, justify in (("", "left"), ("baseline", "right"), ("scenario", "right")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    t.add_column("change", justify="right")
    _row(t, "status", a["status"], b["status"])
    _row(t, "monthly cost", a["monthly_cost"], b["monthly_cost"], d["monthly_cost"])
    clouds = sorted(set(a["per_cloud"]) | set(b["per_cloud"]))
    for cloud in clouds:
        delta = d["per_cloud"].get(cloud)
        _row(
            t,
            f"  {cloud}",
            a["per_cloud"].get(cloud, "0.00"),
            b["per_cloud"].get(cloud, "0.00"),
            delta,
        )
    _row(t, "today's placement", a["current_monthly_cost"], b["current_monthly_cost"])  # priced
    _row(t, "one-off (moves)", a["one_off_usd"], b["one_off_usd"], d["one_off_usd"])
    _row(t, "moves", a["moves"], b["moves"], d["moves"])
    _row(t, "savings found", a["monthly_savings"], b["monthly_savings"], d["monthly_savings"])
    _row(t, "tiering savings", a["tiering_savings"], b["tiering_savings"], d["tiering_savings"])
    if b["commitment_fees"] not in ("0.00", None):
        _row(t, "new commitment fees", a["commitment_fees"], b["commitment_fees"])
    _row(t, "infeasible", len(a["infeasible"]), len(b["infeasible"]))
    _row(t, "unplaced", len(a["unplaced"]), len(b["unplaced"]))
    _row(t, "policies binding", len(a["binding"]), len(b["binding"]))
    app.out.print(t)
    for key, label in (
        ("newly_infeasible", "newly infeasible"),
        ("newly_unplaced", "newly unplaced"),
        ("policies_binding_added", "policies that start to bind"),
        ("policies_binding_released", "policies that stop binding"),
    ):
        if r[key]:
            app.out.print(f"{label}: {', '.join(r[key])}", markup=False)
    changed = r["placement_changed"]
    if changed:
        more = f", first {SHOWN}" if len(changed) > SHOWN else ""
        t = Table(title=f"{len(changed)} workload(s) planned differently{more}", show_header=True)
        for col in ("workload", "baseline plan", "scenario plan"):
            t.add_column(col)
        for item in changed[:SHOWN]:
            t.add_row(item["workload"], item["baseline"] or "-", item["scenario"] or "-")
        app.out.print(t)
    before = {c["name"]: c for c in a["commitments"]}
    pools = [c for c in b["commitments"] if before.get(c["name"]) != c]
    if pools:
        t = Table(title="commitments that changed", show_header=True)
        for col in ("commitment", "used", "credit USD/month"):
            t.add_column(col, justify="left" if col == "commitment" else "right")
        for c in pools:
            t.add_row(c["name"], f"{c['used']:.0%}", c["credit"])
        app.out.print(t)
    if b["binding"]:
        t = Table(title="policies binding in the scenario", show_header=True)
        t.add_column("policy")
        t.add_column("why")
        for item in b["binding"]:
            t.add_row(item["policy"], item["why"])
        app.out.print(t)
    for item in b["infeasible"][:10]:
        app.out.print(f"infeasible in scenario: {item['workload']}: {item['text']}", markup=False)
    if b["error"]:
        app.out.print(f"scenario plan failed: {b['error']}", markup=False)
    app.out.print("The live store was not written (simulate records nothing).")


COMMANDS: list[click.Command] = [simulate]
