"""`optimizer collect …` and `optimizer export …`: data into and out of the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from optimizer.context import AppContext, pass_app
from optimizer.progress import Advance, progress_bar
from store.errors import CollectorError, OptimizerError, StageNotBuilt
from store.money import money_str

if TYPE_CHECKING:
    from collectors.exports.ingest import ExportImportSummary
    from collectors.focus.ingest import IngestSummary
    from collectors.usage.ingest import UsageImportSummary


@click.group()
def collect() -> None:
    """Bring spend, prices and utilization into the store."""


T = TypeVar("T")


def _each_file(
    app: AppContext,
    paths: tuple[Path, ...],
    verb: str,
    read: Callable[[Path, Advance], T],
    show: Callable[[AppContext, T], None],
    kind: str | None,
    source_key: str | None = None,
) -> tuple[list[T], list[tuple[Path, OptimizerError]]]:
    """Read every file, one at a time with its progress bar: a file that fails is
    reported and skipped (re-raised when it is the only one), the others still go in.
    Each file's run, failed or not, is one audit event of type `kind` (None: a dry run,
    which changes nothing and records nothing)."""
    from optimizer.audit_events import file_run

    done: list[T] = []
    failed: list[tuple[Path, OptimizerError]] = []
    for path in paths:
        try:
            with progress_bar(app, f"{verb} {path.name}") as advance:
                summary = read(path, advance)
        except OptimizerError as exc:
            if kind is not None:
                file_run(app.engine(), kind, path, error=exc, source_key=source_key)
            if len(paths) == 1:
                raise
            failed.append((path, exc))
            app.err.print(exc.render(), markup=False)
            continue
        if kind is not None:
            file_run(app.engine(), kind, path, summary)
        done.append(summary)
        if not app.json_output:
            show(app, summary)
    return done, failed


def _failed_json(failed: list[tuple[Path, OptimizerError]]) -> list[dict[str, object]]:
    return [{"path": str(p), **e.as_dict()} for p, e in failed]


def _cost_totals(done: list[Any]) -> dict[str, object]:
    return {
        "rows": sum(s.rows for s in done),
        "billed_cost_total": money_str(sum((s.billed_cost_total for s in done), Decimal(0))),
        "effective_cost_total": money_str(sum((s.effective_cost_total for s in done), Decimal(0))),
    }


def _raise_if_failed(
    paths: tuple[Path, ...], failed: list[tuple[Path, OptimizerError]], again: str
) -> None:
    if failed:
        raise CollectorError(
            f"{len(failed)} of {len(paths)} file(s) failed and wrote nothing: "
            + ", ".join(p.name for p, _ in failed),
            fix=f"fix the files named above and run the same command again ({again})",
        )


@collect.command("focus")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--source-key", help="Name this source (default: focus:<absolute path>). One file only."
)
@click.option(
    "--focus-version",
    type=click.Choice(["1.0", "1.1", "1.2"]),
    help="Read as this FOCUS version instead of detecting it from the columns.",
)
@click.option("--force", is_flag=True, help="Re-ingest files even when unchanged since last time.")
@pass_app
def collect_focus(
    app: AppContext,
    paths: tuple[Path, ...],
    source_key: str | None,
    focus_version: str | None,
    force: bool,
) -> None:
    """Ingest FOCUS 1.0–1.2 files (CSV, CSV.gz or Parquet), one transaction per file.

    Re-ingesting a file replaces what it wrote before, so runs are idempotent. A file
    with a bad value writes nothing; the other files still go in, and the exit code is 3.
    """
    if source_key and len(paths) > 1:
        raise click.UsageError("--source-key names one source: give one file with it")
    from collectors.focus.ingest import ingest_file

    engine = app.engine()
    done, failed = _each_file(
        app,
        paths,
        "ingesting",
        lambda path, advance: ingest_file(
            engine,
            path,
            source_key=source_key,
            version=focus_version,
            progress=advance,
            force=force,
        ),
        _print_summary,
        "focus",
        source_key,
    )
    if app.json_output:
        app.emit_json(
            {
                **_cost_totals(done),
                "files": [s.as_dict() for s in done],
                "failed": _failed_json(failed),
            }
        )
    _raise_if_failed(paths, failed, "files that went in will be replaced, not doubled")


def _print_summary(app: AppContext, s: IngestSummary) -> None:
    if s.unchanged:
        app.out.print(
            f"[bold]{Path(s.path).name}[/]: unchanged since its last ingest ({s.rows:,} rows, "
            f"BilledCost {money_str(s.billed_cost_total)}); skipped. --force re-reads it."
        )
        return
    period = (
        f"{s.period_start:%Y-%m-%d %H:%M} → {s.period_end:%Y-%m-%d %H:%M}"
        if s.period_start and s.period_end
        else "-"
    )
    app.out.print(
        f"[bold]{Path(s.path).name}[/]: {s.rows:,} rows (FOCUS {s.focus_version}, {s.format}) "
        f"in {s.seconds:.2f}s; period {period}"
    )
    if s.rows_replaced:
        app.out.print(f"  replaced {s.rows_replaced:,} rows from an earlier ingest of this file")
    table = Table(show_header=True, show_footer=True)
    table.add_column("provider", footer="total")
    table.add_column("service")
    table.add_column("rows", justify="right", footer=f"{s.rows:,}")
    table.add_column("BilledCost", justify="right", footer=money_str(s.billed_cost_total))
    table.add_column("EffectiveCost", justify="right", footer=money_str(s.effective_cost_total))
    for row in s.by_service:
        table.add_row(
            row.provider,
            row.service or "-",
            f"{row.rows:,}",
            money_str(row.billed_cost),
            money_str(row.effective_cost),
        )
    app.out.print(table)
    for warning in s.warnings:
        app.out.print(f"  [yellow]warning:[/] {warning}")


@collect.command("usage")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--source-key", help="Name this source (default: usage:<absolute path>). One file only."
)
@click.option("--dry-run", is_flag=True, help="Read and validate, report, write nothing.")
@pass_app
def collect_usage(
    app: AppContext, paths: tuple[Path, ...], source_key: str | None, dry_run: bool
) -> None:
    """Import utilization series in long form (series_id, timestamp, metric, value).

    CSV, CSV.gz or Parquet; one transaction per file; re-importing upserts, never doubles.
    Bad rows are quarantined and reported with their line; a file that cannot be read
    writes nothing, the other files still go in, and the exit code is 3.
    Format: docs/usage-import.md.
    """
    if source_key and len(paths) > 1:
        raise click.UsageError("--source-key names one source: give one file with it")
    from collectors.usage.ingest import import_usage_file

    engine = app.engine()
    done, failed = _each_file(
        app,
        paths,
        "importing",
        lambda path, advance: import_usage_file(
            engine, path, source_key=source_key, dry_run=dry_run, progress=advance
        ),
        _print_usage,
        None if dry_run else "usage",
        source_key,
    )
    if app.json_output:
        quarantined: dict[str, int] = {}
        for s in done:
            for reason, count in s.quarantined.items():
                quarantined[reason] = quarantined.get(reason, 0) + count
        app.emit_json(
            {
                "dry_run": dry_run,
                "rows_read": sum(s.rows_read for s in done),
                "rows_written": sum(s.rows_written for s in done),
                "quarantined": quarantined,
                "quarantined_total": sum(quarantined.values()),
                "files": [s.as_dict() for s in done],
                "failed": _failed_json(failed),
            }
        )
    _raise_if_failed(paths, failed, "files that went in are upserted, not doubled")


def _print_usage(app: AppContext, s: UsageImportSummary) -> None:
    span = f"{s.first:%Y-%m-%d %H:%M} → {s.last:%Y-%m-%d %H:%M} UTC" if s.first and s.last else "-"
    verb = "would write" if s.dry_run else "wrote"
    app.out.print(
        f"[bold]{Path(s.path).name}[/] ({s.format}): read {s.rows_read:,} rows, {verb} "
        f"{s.rows_valid:,} in {s.seconds:.2f}s"
        + ("" if s.dry_run else f" ({s.rows_new:,} new, {s.rows_updated:,} updated)")
    )
    metrics = ", ".join(s.metrics) or "-"
    app.out.print(f"  {s.series:,} series; metrics: {metrics}; {span}", markup=False)
    for reason, count in s.repairs.items():
        app.out.print(f"  repaired: {count:,} {reason.replace('_', ' ')}")
    if s.quarantined:
        table = Table("quarantined (not written)", "rows", show_header=True)
        for reason, count in sorted(s.quarantined.items()):
            table.add_row(reason, f"{count:,}")
        app.out.print(table)
        for example in s.quarantine_examples:
            app.out.print(f"  {example}", markup=False)
        if s.quarantined_total > len(s.quarantine_examples):
            app.out.print(f"  … and {s.quarantined_total - len(s.quarantine_examples):,} more")


EXPORT_FORMATS = ("aws-cur", "aws-cur2", "azure-cost-details", "gcp-billing-export")


@collect.command("export")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(EXPORT_FORMATS),
    help="The native export format of every PATH.",
)
@click.option("--dry-run", is_flag=True, help="Map and report totals, write nothing.")
@pass_app
def collect_export(app: AppContext, paths: tuple[Path, ...], fmt: str, dry_run: bool) -> None:
    """Normalise native billing exports (AWS CUR / CUR 2.0, Azure cost details, GCP
    billing export CSV, also .gz) into FOCUS cost records, one transaction per file.

    Each file is its own source (export:<format>:<absolute path>): re-importing it
    replaces what it wrote, never doubles. A bad file writes nothing; the other files
    still go in, and the exit code is 3. Mapping rules: docs/native-exports.md.
    """
    from collectors.exports.ingest import import_export_file

    engine = app.engine()
    done, failed = _each_file(
        app,
        paths,
        "importing",
        lambda path, advance: import_export_file(
            engine, path, fmt, dry_run=dry_run, progress=advance
        ),
        _print_export,
        None if dry_run else f"export:{fmt}",
    )
    if app.json_output:
        app.emit_json(
            {
                "format": fmt,
                "dry_run": dry_run,
                **_cost_totals(done),
                "files": [s.as_dict() for s in done],
                "failed": _failed_json(failed),
            }
        )
    _raise_if_failed(paths, failed, "files that went in will be replaced, not doubled")


def _print_export(app: AppContext, s: ExportImportSummary) -> None:
    if s.dry_run:
        app.out.print(f"[bold]dry run[/]: nothing written for {Path(s.path).name}")
    _print_summary(app, s)
    categories = ", ".join(f"{k} {v:,}" for k, v in sorted(s.categories.items()))
    app.out.print(
        f"  {s.source_rows:,} {s.format} row(s) -> {s.rows:,} FOCUS row(s): {categories}",
        markup=False,
    )


def _not_built(name: str, issue: str) -> click.Command:
    @click.command(
        name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help=f"Collect from {name}. Not built yet (issue {issue}).",
    )
    def command() -> None:
        raise StageNotBuilt(
            f"`optimizer collect {name}` is not built yet",
            fix=f"it arrives with issue {issue}; meanwhile export FOCUS files from your "
            "cloud and use `optimizer collect focus`",
        )

    return command


for _name, _issue in (
    ("aws", "#5"),
    ("azure", "#5"),
):
    collect.add_command(_not_built(_name, _issue))


def _date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@click.group()
def export() -> None:
    """Write what the store holds in open formats."""


@export.command("focus")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file: *.csv or *.parquet.",
)
@click.option("--from", "since", help="First charge day to include (YYYY-MM-DD, UTC).")
@click.option("--to", "until", help="Charge day to stop before (YYYY-MM-DD, UTC, exclusive).")
@click.option("--provider", help="Only this ProviderName (case-insensitive).")
@pass_app
def export_focus_cmd(
    app: AppContext, out: Path, since: str | None, until: str | None, provider: str | None
) -> None:
    """Export cost records as FOCUS 1.2, so other FinOps tools can read them."""
    from collectors.focus.export import export_focus

    engine = app.engine()
    with progress_bar(app, f"exporting {out.name}") as advance:
        s = export_focus(
            engine, out, since=_date(since), until=_date(until), provider=provider, progress=advance
        )
    payload = {
        "path": s.path,
        "format": s.format,
        "focus_version": "1.2",
        "rows": s.rows,
        "columns": s.columns,
        "billed_cost_total": money_str(s.billed_cost_total),
        "effective_cost_total": money_str(s.effective_cost_total),
    }
    if app.json_output:
        app.emit_json(payload)
    else:
        app.out.print(
            f"Wrote {s.rows:,} rows × {s.columns} columns (FOCUS 1.2 {s.format}) to {s.path}; "
            f"BilledCost {s.billed_cost_total}, EffectiveCost {s.effective_cost_total}"
        )


COMMANDS = [collect, export]
