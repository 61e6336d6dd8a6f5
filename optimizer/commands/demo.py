"""`optimizer demo`: a complete, realistic store to try every stage without a cloud account."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from optimizer.context import AppContext, pass_app
from optimizer.progress import progress_bar

if TYPE_CHECKING:  # the builder pulls in numpy and Arrow: import it only when it runs
    from optimizer.demo.build import DemoSummary


def default_out(app: AppContext) -> Path:
    """`.demo` next to a SQLite store file, else `./.demo`."""
    import sqlalchemy as sa

    url = sa.make_url(app.url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().parent / ".demo"
    return Path.cwd() / ".demo"


@click.command()
@click.option("--seed", default=7, show_default=True, help="Same seed, same estate and totals.")
@click.option("--workloads", default=500, show_default=True, help="Workloads to generate.")
@click.option(
    "--storage-groups",
    default=120,
    show_default=True,
    help="Buckets, containers and prefixes to generate.",
)
@click.option(
    "--days",
    default=90,
    show_default=True,
    help="Days of hourly usage and daily billing (at least 60), ending today (UTC).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the FOCUS file goes (default: .demo next to a SQLite store, else ./.demo).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace workloads, usage, prices and cost records already in the store.",
)
@pass_app
def demo(
    app: AppContext,
    seed: int,
    workloads: int,
    storage_groups: int,
    days: int,
    out_dir: Path | None,
    force: bool,
) -> None:
    """Build a demo estate on AWS, Azure and GCP from real public prices and traces.

    Writes workloads, storage groups, 90 days of hourly utilization, reference prices,
    and the billing as a FOCUS 1.2 file that goes through the normal FOCUS ingest.
    """
    from optimizer.demo.build import build_demo, validate
    from store.migrate import upgrade

    validate(workloads, storage_groups, days)  # before a store file is created
    engine = app.engine(require_schema=False)
    upgrade(engine)
    out = out_dir or default_out(app)
    summary = build_demo(
        engine,
        out,
        seed=seed,
        workloads=workloads,
        storage_groups=storage_groups,
        days=days,
        force=force,
        progress=lambda label, total: progress_bar(app, label, total),
    )
    if app.json_output:
        app.emit_json(summary.as_dict())
    else:
        _print(app, summary)


def _usd(value: Decimal) -> str:
    """Cents for people; --json keeps every decimal."""
    return f"{value:,.2f}"


def _print(app: AppContext, s: DemoSummary) -> None:
    app.out.print(
        f"[bold]Demo estate[/] (seed {s.seed}): {s.workloads:,} workloads, "
        f"{s.storage_groups:,} storage groups, {s.commitments} commitment(s); "
        f"{s.period_start:%Y-%m-%d} → {s.period_end:%Y-%m-%d} (UTC, end exclusive)"
    )
    table = Table(show_header=True, show_footer=True)
    table.add_column("cloud", footer="total")
    table.add_column("workloads", justify="right", footer=f"{s.workloads:,}")
    table.add_column("storage groups", justify="right", footer=f"{s.storage_groups:,}")
    table.add_column("BilledCost USD", justify="right", footer=_usd(s.billed_total))
    for cloud, row in s.by_provider.items():
        table.add_row(
            cloud, f"{row['workloads']:,}", f"{row['storage_groups']:,}", _usd(row["billed"])
        )
    app.out.print(table)
    app.out.print(
        f"Last 30 days: BilledCost {_usd(s.last_30_days_billed)} USD, "
        f"EffectiveCost {_usd(s.last_30_days_effective)} USD"
    )
    app.out.print(
        f"{s.usage_samples:,} usage samples, {s.cost_records:,} cost records "
        f"in {sum(s.seconds.values()):.1f}s"
    )
    app.out.print(f"FOCUS file: {s.focus_file}")
    app.out.print(f"Config naming it as a source: {s.config_file}")
    app.out.print("Next: `optimizer status` shows what the store now holds.")


COMMANDS = [demo]
