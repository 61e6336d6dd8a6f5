"""`optimizer recommendations approve|reject ID... --by NAME [--reason TEXT]`."""

from __future__ import annotations

import click

from optimizer.commands.plan import recommendations
from optimizer.context import AppContext, pass_app


def _decide(
    app: AppContext, decision: str, ids: tuple[int, ...], by: str, reason: str | None
) -> None:
    from optimizer.approvals import decide

    done = decide(app.engine(), ids, decision, by, reason)
    if app.json_output:
        app.emit_json([d.__dict__ for d in done])
        return
    for d in done:
        app.out.print(f"#{d.id} {d.kind} {d.subject}: {d.before} → {d.after}", markup=False)


@recommendations.command("approve")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--by", required=True, help="Who approves (recorded with the time).")
@click.option("--reason", help="Why (recorded).")
@pass_app
def approve(app: AppContext, ids: tuple[int, ...], by: str, reason: str | None) -> None:
    """Approve proposed (or earlier rejected) recommendations, all or none. Only
    approved storage tiering is ever applied (`optimizer apply`, issue #6)."""
    _decide(app, "approve", ids, by, reason)


@recommendations.command("reject")
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option("--by", required=True, help="Who rejects (recorded with the time).")
@click.option("--reason", help="Why (recorded).")
@pass_app
def reject(app: AppContext, ids: tuple[int, ...], by: str, reason: str | None) -> None:
    """Reject proposed (or earlier approved, not yet applied) recommendations, all or
    none."""
    _decide(app, "reject", ids, by, reason)


COMMANDS: list[click.Command] = []  # attaches to `recommendations` on import
