"""`optimizer audit verify|export`: check the hash chain of the audit log, write it out."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from optimizer.context import AppContext, pass_app
from store.errors import AuditLogBroken


@click.group()
def audit() -> None:
    """The append-only audit log: every state change, each event carrying the hash of
    the one before it (docs/operations.md)."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option(
    "--expect-head",
    "expect",
    metavar="HASH",
    help="A head hash printed by an earlier verify: it must still be in the chain.",
)
@pass_app
def verify_cmd(app: AppContext, as_json: bool, expect: str | None) -> None:
    """Recompute every event's hash and check each links to the one before it.

    Exit 0 when the log is intact; exit 2 naming the first edited, deleted or reordered
    event. Removing the newest events leaves a valid shorter chain: keep the head hash
    printed here outside the store (the nightly log, a ticket) and pass it back with
    --expect-head, which fails when that event is gone.
    """
    import sqlalchemy as sa

    from store.audit import TABLE, verify

    app.json_output = app.json_output or as_json
    with app.engine().connect() as conn:
        report = verify(conn)
        counted = conn.execute(sa.select(TABLE.c.action, sa.func.count()).group_by(TABLE.c.action))
        actions: dict[str, int] = {str(row[0]): int(row[1]) for row in counted}
    if app.json_output:
        app.emit_json({**report.as_dict(), "actions": dict(sorted(actions.items()))})
    elif report.ok:
        kinds = ", ".join(f"{a} {n:,}" for a, n in sorted(actions.items())) or "none"
        head = "-" if report.head_id is None else f"event {report.head_id}"
        app.out.print(
            f"audit log intact: {report.events:,} events ({kinds}); head {head}, "
            f"hash {report.head_hash}",
            markup=False,
        )
    broken = report.broken
    if broken is not None:
        raise AuditLogBroken(
            broken.message, where=f"audit_event id {broken.event_id}", fix=broken.fix
        )
    if expect and expect != report.head_hash:
        with app.engine().connect() as conn:
            found = conn.execute(sa.select(TABLE.c.id).where(TABLE.c.hash == expect)).first()
        if found is None:
            raise AuditLogBroken(
                f"the chain no longer holds the event with hash {expect}: events were "
                "removed from its end (or the hash is from another store)",
                where="audit_event (the newest events)",
                fix="restore the store from a backup taken after that event, and find out "
                "who removed the events; `audit export` keeps a copy outside the store",
            )


@audit.command("export")
@click.option(
    "--out",
    "out",
    required=True,
    metavar="FILE|-",
    help="Write the events as JSON lines to FILE, or to stdout with -.",
)
@pass_app
def export_cmd(app: AppContext, out: str) -> None:
    """Write every audit event as one JSON line, in id order (id, ts, actor, action,
    subject, details, prev_hash, hash), exactly as stored, even when the log is broken."""
    from store.audit import export

    with app.engine().connect() as conn:
        if out == "-":
            count, head = export(conn, sys.stdout)
            sys.stdout.flush()
            app.emitted = True
            app.err.print(f"{count:,} events; head hash {head}", markup=False)
            return
        path = Path(out)
        with path.open("w", encoding="utf-8") as handle:
            count, head = export(conn, handle)
    payload = {"path": str(path), "events": count, "head_hash": head}
    if app.json_output:
        app.emit_json(payload)
    else:
        app.out.print(f"wrote {count:,} events to {path}; head hash {head}", markup=False)


COMMANDS = [audit]
