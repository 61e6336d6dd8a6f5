"""`optimizer apply [--execute]` and `optimizer rollback ID... [--execute]`."""

from __future__ import annotations

import click
from rich.markup import escape

from optimizer.config import load_config
from optimizer.context import AppContext, pass_app
from store.errors import ApplyError

STYLE = {
    "planned": "cyan",
    "applied": "green",
    "already": "green",
    "rolled_back": "green",
    "deferred": "yellow",
    "not-attempted": "yellow",
    "nothing-to-undo": "dim",
    "manual": "dim",
    "conflict": "red",
    "refused": "red",
    "failed": "red",
}


def _by(by: str | None) -> str:
    from optimizer.audit_events import actor

    return (by or "").strip() or actor()


def _limits(app: AppContext, max_changes: int | None, max_bytes: int | None):  # type: ignore[no-untyped-def]
    settings = load_config(app.config_path).apply
    update = {k: v for k, v in (("max_changes", max_changes), ("max_bytes", max_bytes)) if v}
    return settings.model_copy(update=update) if update else settings


@click.command("apply")
@click.option("--execute", is_flag=True, help="Make the changes (default: print the calls).")
@click.option("--id", "ids", type=int, multiple=True, help="Only these recommendations.")
@click.option("--by", help="Who applies (default: OPTIMIZER_ACTOR or the OS user).")
@click.option("--max-changes", type=click.IntRange(1), help="Override [apply] max_changes.")
@click.option("--max-bytes", type=click.IntRange(1), help="Override [apply] max_bytes.")
@pass_app
def apply_cmd(
    app: AppContext,
    execute: bool,
    ids: tuple[int, ...],
    by: str | None,
    max_changes: int | None,
    max_bytes: int | None,
) -> None:
    """Apply approved storage-tiering recommendations through the clouds' APIs.

    A dry run by default: it reads each bucket and prints the exact calls it would
    make. --execute makes them, within the blast-radius limits, one change at a time
    under the store's apply lock, each recorded for `optimizer rollback`."""
    from optimizer.apply.run import run_apply

    settings = _limits(app, max_changes, max_bytes)
    report = run_apply(app.engine(), settings, execute=execute, by=_by(by), ids=ids)
    if app.json_output:
        app.emit_json(
            {
                "apply_id": report.apply_id,
                "executed": execute,
                "changes": [o.as_dict() for o in report.outcomes],
            }
        )
    else:
        head = "Applying" if execute else "Dry run (nothing is changed; --execute applies)"
        app.out.print(f"[bold]{head}[/]: {len(report.outcomes)} approved tiering change(s)")
        for o in report.outcomes:
            c = o.change
            app.out.print(
                f"  #{c.rec_id} [{STYLE.get(o.status, 'white')}]{o.status}[/] {c.provider} "
                f"{c.target}: {c.action} {c.current_tier} → {c.tier} ({c.bytes:,} bytes) "
                f"— {escape(o.detail)}",
                highlight=False,
            )
            for call in o.calls:
                app.out.print(f"      {call.render()}", markup=False, highlight=False)
        if not report.outcomes:
            app.out.print("  nothing approved: `optimizer recommendations approve ID --by NAME`")
    if report.failed:
        first = report.failed[0]
        error = ApplyError(
            f"{len(report.failed)} change(s) not applied: #{first.change.rec_id} {first.detail}",
            where=first.change.target,
            fix=(first.error.fix if first.error and first.error.fix else "see above"),
        )
        if app.json_output:
            app.emitted = True
        raise error


@click.command("rollback")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--execute", is_flag=True, help="Undo for real (default: print the calls).")
@click.option("--by", help="Who rolls back (default: OPTIMIZER_ACTOR or the OS user).")
@click.option("--reason", help="Why (recorded).")
@pass_app
def rollback_cmd(
    app: AppContext, ids: tuple[int, ...], execute: bool, by: str | None, reason: str | None
) -> None:
    """Undo applied tiering changes from their rollback records (a dry run by default).

    Only optimizer's part is undone: its lifecycle rule goes, rules added since by
    others stay; re-tiered objects go back to their recorded class."""
    from optimizer.apply.rollback import run_rollback

    settings = load_config(app.config_path).apply
    done = run_rollback(app.engine(), settings, ids, execute=execute, by=_by(by), reason=reason)
    if app.json_output:
        app.emit_json({"executed": execute, "rollbacks": [u.as_dict() for u in done]})
    else:
        head = "Rolling back" if execute else "Dry run (nothing is changed; --execute undoes)"
        app.out.print(f"[bold]{head}[/]")
        for u in done:
            app.out.print(
                f"  #{u.rec_id} [{STYLE.get(u.status, 'white')}]{u.status}[/] {u.target} "
                f"— {escape(u.detail)}",
                highlight=False,
            )
            for call in u.calls:
                app.out.print(f"      {call.render()}", markup=False, highlight=False)
    failed = [u for u in done if u.status == "failed"]
    if failed:
        raise ApplyError(
            f"{len(failed)} rollback(s) failed: #{failed[0].rec_id} {failed[0].detail}",
            fix=(failed[0].error.fix if failed[0].error and failed[0].error.fix else "see above"),
        )


COMMANDS = [apply_cmd, rollback_cmd]
