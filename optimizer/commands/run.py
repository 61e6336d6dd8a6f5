"""`optimizer run`: the nightly chain, each stage recorded in the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from rich.markup import escape

from optimizer.config import load_config
from optimizer.context import AppContext, pass_app
from optimizer.stages import NOT_BUILT, STAGES
from store.errors import OptimizerError, StageNotBuilt

if TYPE_CHECKING:
    from optimizer.nightly import Outcome
    from optimizer.pipeline import StageResult


class StageFailed(OptimizerError):
    """A stage of the run failed; the exit code is that of the first failure's error."""

    kind = "run failed"


STYLE = {
    "ok": "green",
    "partial": "yellow",
    "failed": "red",
    "not_built": "dim",
    "skipped": "cyan",
    "aborted": "red",
}
LABEL = {"not_built": "not built yet", "skipped": "done before"}


@click.command()
@click.option(
    "--stages",
    default=",".join(STAGES),
    show_default=True,
    help="Comma-separated subset of the stages, run in pipeline order.",
)
@click.option(
    "--skip-unbuilt",
    is_flag=True,
    help="Record stages not built yet as such instead of refusing (every stage is built "
    "now; kept so existing scripts keep working).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="After a crash, redo every stage instead of resuming where the crashed run stopped.",
)
@click.option(
    "--allow-stale",
    is_flag=True,
    help="Plan even when a source's newest data is older than [run] stale_after_hours.",
)
@pass_app
def run(app: AppContext, stages: str, skip_unbuilt: bool, fresh: bool, allow_stale: bool) -> None:
    """Run collect → forecast → plan → apply → report once (what the nightly cron calls).

    One run at a time (the store's `run` lock). A run that crashed (kill -9, a lost
    machine) is marked crashed by the next one, which resumes it: the stages it
    finished today are not redone. Exit 75 when another run holds the lock."""
    wanted = tuple(s.strip() for s in stages.split(",") if s.strip())
    unknown = [s for s in wanted if s not in STAGES]
    if unknown:
        raise click.BadParameter(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
    ordered = tuple(s for s in STAGES if s in wanted)
    unbuilt = [s for s in ordered if s in NOT_BUILT]
    if unbuilt and not skip_unbuilt:
        raise StageNotBuilt(
            "stage(s) not built yet: " + ", ".join(f"{s} ({NOT_BUILT[s]})" for s in unbuilt),
            fix="run with --skip-unbuilt to run the stages that exist, or --stages collect",
        )
    config = load_config(app.config_path)
    from optimizer.nightly import RunOptions, run_nightly
    from optimizer.pipeline import Hooks

    engine = app.engine()

    def show(result: StageResult) -> None:
        if app.json_output:
            return
        label = LABEL.get(result.status, result.status)
        app.out.print(
            f"  {result.name:<9} [{STYLE[result.status]}]{label:<13}[/] "
            f"{result.seconds:6.2f}s  {escape(result.detail)}"
        )
        for problem in result.data.get("failures", []):
            app.out.print(f"            [red]✗[/] {escape(problem)}")
        if result.status == "failed" and result.data.get("fix"):
            app.out.print(f"            To fix: {escape(result.data['fix'])}")
        for pending in result.data.get("not_built", []):
            app.out.print(f"            [dim]– {escape(pending)}[/]")

    if not app.json_output:
        app.out.print("[bold]optimizer run[/]")

    def started(outcome: Outcome) -> None:
        if app.json_output:
            return
        for dead in outcome.crashed:
            app.out.print(f"  [yellow]run {dead.run_id} crashed[/] ({dead.reason}): marked crashed")
        if outcome.resumed_from is not None:
            app.out.print(
                f"  resuming run {outcome.resumed_from}: stages it finished today are not "
                "redone (--fresh redoes them)"
            )

    from optimizer.progress import progress_bar

    hooks = Hooks(progress=lambda label, total: progress_bar(app, label, total=total))
    options = RunOptions(fresh=fresh, allow_stale=allow_stale)
    outcome = run_nightly(
        engine, config, ordered, options, on_stage=show, hooks=hooks, on_start=started
    )
    results = outcome.results
    if app.json_output:
        app.emit_json(
            {
                "run_id": outcome.run_id,
                "status": outcome.status,
                "resumed_from": outcome.resumed_from,
                "crashed": [
                    {"run_id": c.run_id, "host": c.host, "reason": c.reason}
                    for c in outcome.crashed
                ],
                "stages": outcome.records,
            }
        )
    else:
        app.out.print(
            f"Run {outcome.run_id} recorded; `optimizer status` shows what the store holds."
        )
    failed = [r for r in results if r.status in ("failed", "partial")]
    if failed:
        error = StageFailed(
            "stage(s) failed: " + "; ".join(f"{r.name}: {r.detail}" for r in failed),
            fix=failed[0].data.get("fix")
            or "fix what is named above and run again: every stage is idempotent, "
            "nothing is counted twice",
        )
        error.exit_code = failed[0].exit_code or 1
        raise error


COMMANDS = [run]
