"""`optimizer init`, `optimizer status` and `optimizer unlock`."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from optimizer.context import AppContext, pass_app
from store.money import money_str


@click.command()
@pass_app
def init(app: AppContext) -> None:
    """Create the store, or upgrade it in place to this version's schema."""
    from store.engine import redacted
    from store.migrate import upgrade

    engine = app.engine(require_schema=False)
    before, after = upgrade(engine)
    payload = {"url": redacted(app.url), "revision_before": before, "revision": after}
    if app.json_output:
        app.emit_json(payload)
        return
    if before == after:
        app.out.print(f"Store at {payload['url']} is up to date (schema {after}).")
    elif before is None:
        app.out.print(f"Created the store at {payload['url']} (schema {after}).")
    else:
        app.out.print(f"Upgraded the store at {payload['url']} from schema {before} to {after}.")


def _when(value: Any) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


@click.command()
@pass_app
def status(app: AppContext) -> None:
    """What the store holds: sources, periods, freshness and counts."""
    from store.engine import redacted
    from store.migrate import head_revision
    from store.status import store_status

    engine = app.engine()
    with engine.connect() as conn:
        st = store_status(conn)
    if app.json_output:
        app.emit_json(
            {
                "url": redacted(app.url),
                "schema": head_revision(),
                "counts": st.counts,
                "costs": {
                    "rows": st.costs.rows,
                    "billed_cost_total": money_str(st.costs.billed_cost),
                    "effective_cost_total": money_str(st.costs.effective_cost),
                    "period_start": st.costs.period_start,
                    "period_end": st.costs.period_end,
                },
                "usage_period": {"start": st.usage_period[0], "end": st.usage_period[1]},
                "sources": [s.__dict__ for s in st.sources],
            }
        )
        return
    app.out.print(f"[bold]Store[/] {redacted(app.url)} (schema {head_revision()})")
    c = st.costs
    app.out.print(
        f"Costs: {c.rows:,} records, billed {c.billed_cost:,.2f}, effective "
        f"{c.effective_cost:,.2f}, {_when(c.period_start)} → {_when(c.period_end)}"
    )
    app.out.print(f"Usage: {_when(st.usage_period[0])} → {_when(st.usage_period[1])}")
    counts = Table(title="Rows per table", show_header=True)
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, n in st.counts.items():
        counts.add_row(name, f"{n:,}")
    app.out.print(counts)
    if not st.sources:
        app.out.print("No sources yet: run `optimizer collect focus FILE` or `optimizer demo`.")
        return
    table = Table(title="Sources", show_header=True)
    for col in ("source", "type", "status", "last success", "age (h)", "rows", "period"):
        table.add_column(col)
    for s in st.sources:
        table.add_row(
            s.source_key,
            s.source_type,
            s.last_status,
            _when(s.last_success_at),
            "-" if s.age_hours is None else f"{s.age_hours:.1f}",
            f"{s.rows:,}",
            f"{_when(s.period_start)} → {_when(s.period_end)}",
        )
    app.out.print(table)


@click.command()
@click.argument("name", type=click.Choice(["apply", "run"]))
@click.option("--yes", is_flag=True, help="Confirm that the holder's process is gone.")
@pass_app
def unlock(app: AppContext, name: str, yes: bool) -> None:
    """Free a store lock whose holder died (SQLite keeps it until it expires;
    PostgreSQL frees it by itself). Only when you are sure the holder is gone."""
    from optimizer.audit_events import record
    from store.errors import ConfigError
    from store.locks import force_release

    if not yes:
        raise ConfigError(
            f"unlocking {name!r} lets a second process run beside its holder",
            fix="make sure the holder the lock error named is gone, then add --yes",
        )
    engine = app.engine()
    holder = force_release(engine, name)
    if holder is not None:
        record(engine, "unlock", f"lock:{name}", {"holder": holder})
    if app.json_output:
        app.emit_json({"lock": name, "released": holder})
    else:
        app.out.print(f"{name}: " + (f"released (was held by {holder})" if holder else "not held"))


COMMANDS = [init, status, unlock]
