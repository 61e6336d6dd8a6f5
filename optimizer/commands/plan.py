"""`optimizer plan` and `optimizer recommendations list|show`: placement and storage
tiering changes, their savings and why."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from optimizer.commands.policy import _policy_file
from optimizer.context import AppContext, pass_app
from optimizer.recommendation_text import days_text as _days
from optimizer.recommendation_text import explain
from optimizer.recommendation_text import offers_text as _offers
from optimizer.recommendation_text import usd_text as _usd
from store.errors import ConfigError

TOP = 20


@contextmanager
def _native_stdout_to_stderr() -> Iterator[None]:
    """Native solver libraries (HiGHS) may print banners on file descriptor 1; send them
    to stderr so stdout stays ours (`--json` must parse)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@click.command()
@click.option(
    "--policies",
    "policies_path",
    type=click.Path(path_type=Path),
    help="The policy file (YAML, version 1). Default: [policies] path of the config.",
)
@click.option(
    "--time-limit",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds the solver may use.",
)
@click.option(
    "--export-mps",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the exact model as MPS (objective in USD over the horizon; see "
    "docs/placement.md) to audit the plan with another solver.",
)
@pass_app
def plan(
    app: AppContext, policies_path: Path | None, time_limit: float, export_mps: Path | None
) -> None:
    """Solve the placement of every workload and record a plan with its recommendations.

    Recommendations (move, purchase-option, resize, idle, and tiering for storage groups)
    carry monthly savings over a 730-hour month, one-off cost, payback, reasons and the
    next-best alternatives. Workloads are sized from the p90 of recent utilization
    ([sizing] in optimizer.toml). The objective and its lower bound are USD over the horizon
    (730 hours) and cover placement only.
    """
    from optimizer.config import load_config
    from optimizer.planning import run_plan, usd
    from policies import load_policies, policies_sha256

    path = _policy_file(app, policies_path)
    parsed = load_policies(path)
    sizing = load_config(app.config_path).sizing.settings()
    engine = app.engine()
    with _native_stdout_to_stderr():
        if app.show_progress:
            with app.err.status("Building and solving the placement problem…"):
                plan_id, solution, recs = run_plan(
                    engine, parsed, policies_sha256(path), time_limit, export_mps, sizing
                )
        else:
            plan_id, solution, recs = run_plan(
                engine, parsed, policies_sha256(path), time_limit, export_mps, sizing
            )
    objective, bound = usd(solution.cost), usd(solution.bound)
    if app.json_output:
        app.emit_json(
            {
                "plan_id": plan_id,
                "objective": str(objective),
                "lower_bound": None if bound is None else str(bound),
                "gap": solution.gap,
                "solver": solution.solver,
                "seconds": round(solution.seconds, 3),
                "unplaced": list(solution.unplaced),
                "recommendations": recs,
            }
        )
        return
    details = _plan_details(app, plan_id)
    table = Table(
        title=f"Plan {plan_id}: {len(recs)} recommendation(s)"
        + (f", top {TOP} by monthly savings" if len(recs) > TOP else ""),
        show_header=True,
    )
    for column in ("id", "workload / storage group", "kind", "current", "proposed"):
        table.add_column(column)
    for column in ("savings USD/mo", "one-off USD", "payback days"):
        table.add_column(column, justify="right")
    for r in recs[:TOP]:
        table.add_row(
            str(r["id"]),
            r["subject"],
            r["kind"],
            _offers(r["current"]),
            _offers(r["proposed"]),
            _usd(r["monthly_savings"]),
            _usd(r["one_off_cost"]),
            _days(r["payback_days"]),
        )
    # Idle savings overlap the same workload's placement saving: stopping it saves its
    # whole cost, moving it saves part. They are totalled apart, never added twice.
    acting = [r for r in recs if r["kind"] != "idle"]
    savings = sum((Decimal(r["monthly_savings"]) for r in acting), Decimal(0))
    one_off = sum((Decimal(r["one_off_cost"]) for r in acting), Decimal(0))
    idle = [r for r in recs if r["kind"] == "idle"]
    table.add_section()
    table.add_row(
        "", f"total: {len(acting)}", "", "", "", _usd(savings), _usd(one_off), "", style="bold"
    )
    if idle:
        idle_usd = sum((Decimal(r["monthly_savings"]) for r in idle), Decimal(0))
        table.add_row("", f"idle: {len(idle)}", "", "", "if stopped", _usd(idle_usd), "", "")
    app.out.print(table)
    gap = "-" if solution.gap is None else f"{solution.gap:.4%}"
    app.out.print(
        f"objective {_usd(objective)} USD over {details.get('horizon_hours', 730)} h; "
        f"lower bound {_usd(bound)} USD; gap {gap}; solver {solution.solver}; "
        f"{solution.seconds:.1f} s"
    )
    infeasible = details.get("infeasible", [])
    app.out.print(
        f"{len(infeasible)} infeasible workload(s), {len(solution.unplaced)} unplaced"
        + (f"; {solution.note}" if solution.note else "")
    )
    for item in infeasible[:5]:
        app.out.print(f"  {item['workload']}: {item['text']}")
    sizing_facts = details.get("sizing") or {}
    if sizing_facts:
        app.out.print(
            f"sizing: {sizing_facts.get('sized_from_utilization', 0)} workload(s) sized "
            f"({sizing_facts.get('sized_from_forecast', 0)} from forecasts, the rest from recent "
            f"utilization; {sizing_facts.get('smaller_than_recorded', 0)} smaller than "
            f"recorded, {sizing_facts.get('needs_more_than_today', 0)} need more than today's "
            f"instance), {sizing_facts.get('recorded_size_kept', 0)} kept their recorded size; "
            f"{sizing_facts.get('idle', 0)} idle"
        )
    tiering = details.get("tiering") or {}
    if tiering:
        app.out.print(
            f"tiering: {tiering.get('recommendations', 0)} of {tiering.get('groups', 0)} "
            f"storage group(s), {_usd(tiering.get('monthly_savings'))} USD/month; "
            f"{len(tiering.get('excluded_by_policy', []))} excluded by policy, "
            f"{len(tiering.get('below_change_budget', []))} below the change budget; "
            f"{tiering.get('access', '')}"
        )


def _plan_details(app: AppContext, plan_id: int) -> dict[str, Any]:
    from sqlmodel import Session

    from store.models.operations import Plan

    with Session(app.engine()) as session:
        row = session.get(Plan, plan_id)
        return dict(row.details or {}) if row is not None else {}


@click.group()
def recommendations() -> None:
    """List the recorded recommendations and explain one in plain words."""


@recommendations.command("list")
@click.option(
    "--status",
    default="proposed",
    show_default=True,
    help="proposed, superseded, approved, rejected, applied, or all.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@pass_app
def list_(app: AppContext, status: str, limit: int) -> None:
    """Recommendations with the given status, largest monthly saving first."""
    from sqlmodel import Session, select

    from optimizer.planning import rec_dict
    from store.models.operations import Recommendation

    with Session(app.engine()) as session:
        query = select(Recommendation)
        if status != "all":
            query = query.where(Recommendation.status == status)
        rows = [rec_dict(r) for r in session.exec(query)]
    rows.sort(key=lambda r: (-Decimal(r["monthly_savings"]), r["id"]))
    rows = rows[:limit]
    if app.json_output:
        app.emit_json(rows)
        return
    table = Table(title=f"{len(rows)} recommendation(s), status {status}", show_header=True)
    for column in ("id", "plan", "workload / storage group", "kind", "status", "proposed"):
        table.add_column(column)
    for column in ("savings USD/mo", "one-off USD", "payback days"):
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["plan_id"]),
            r["subject"],
            r["kind"],
            r["status"],
            _offers(r["proposed"]),
            _usd(r["monthly_savings"]),
            _usd(r["one_off_cost"]),
            _days(r["payback_days"]),
        )
    app.out.print(table)


@recommendations.command()
@click.argument("rec_id", metavar="ID", type=int)
@pass_app
def show(app: AppContext, rec_id: int) -> None:
    """Explain recommendation ID: what changes, why, savings, one-off cost, payback and
    the alternatives."""
    from sqlmodel import Session

    from optimizer.planning import rec_dict
    from store.models.operations import Recommendation

    with Session(app.engine()) as session:
        row = session.get(Recommendation, rec_id)
        if row is None:
            raise ConfigError(
                f"no recommendation {rec_id}",
                fix="see `optimizer recommendations list --status all` for the ids",
            )
        r = rec_dict(row)
    if app.json_output:
        app.emit_json(r)
        return
    for line in explain(r):
        app.out.print(line, markup=False)


COMMANDS: list[click.Command] = [plan, recommendations]
