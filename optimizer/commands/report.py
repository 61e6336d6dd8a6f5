"""`optimizer report`: the weekly FinOps report as HTML, JSON and CSV (issue #6 §5)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from optimizer.context import AppContext, pass_app
from store.errors import ConfigError


def _week(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date: give YYYY-MM-DD (any day of the ISO week wanted)"
        ) from None


@click.command()
@click.option(
    "--week",
    "week_of",
    metavar="YYYY-MM-DD",
    callback=_week,
    help="Any day of the ISO week (Monday–Sunday) to report. "
    "Default: the last complete week in the store's data.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for report.html, report.json and the CSV files. "
    "Default: [report] out_dir (reports/ beside optimizer.toml) / <week>.",
)
@click.option("--webhook", "webhook", metavar="URL", help="POST report.json to this URL.")
@click.option(
    "--no-deliver", is_flag=True, help="Write the files only: no webhook, no e-mail from config."
)
@pass_app
def report(
    app: AppContext,
    week_of: date | None,
    out_dir: Path | None,
    webhook: str | None,
    no_deliver: bool,
) -> None:
    """Write the weekly FinOps report: spend by cloud, service and owner with the
    forecast band, anomalies, savings by kind, the top recommendations and their
    approvals, what was applied and rolled back, and data freshness.

    report.html is self-contained (inline CSS and SVG, no script): it opens offline.
    Delivery: --webhook URL, or [report] webhook_url and [report.email] in optimizer.toml.
    """
    from optimizer.config import load_config
    from optimizer.report.deliver import DeliveryError
    from optimizer.report.settings import ReportSettings
    from optimizer.report.stage import headline, make_report

    config = load_config(app.config_path)
    settings = config.report
    if no_deliver:
        settings = settings.model_copy(update={"webhook_url": None, "email": None})
    if webhook:
        try:
            settings = ReportSettings.model_validate(
                {**settings.model_dump(), "webhook_url": webhook}
            )
        except ValueError as exc:
            raise ConfigError(
                f"--webhook {webhook!r} is not an http(s) URL",
                fix="give a URL such as https://hooks.example.com/finops",
            ) from exc
    engine = app.engine()
    outcome = make_report(
        engine,
        settings,
        out_dir or settings.out_path(config.base_dir),
        week_of,
        stale_after_hours=config.run.stale_after_hours,
        per_week=out_dir is None,
    )
    if app.json_output:
        app.emit_json({
            "week": outcome.data.week.label,
            "out_dir": outcome.out_dir,
            "files": {name: path for name, path in sorted(outcome.files.items())},
            "delivered": list(outcome.delivered),
            "failures": list(outcome.failures),
            "totals": {k: v for k, v in outcome.data.totals.__dict__.items()},
        })  # fmt: skip
    else:
        app.out.print(f"[bold]FinOps report[/] {headline(outcome.data)}")
        app.out.print(f"wrote {len(outcome.files)} files to {outcome.out_dir}:")
        app.out.print("  " + ", ".join(sorted(outcome.files)))
        for sent in outcome.delivered:
            app.out.print(f"  [green]sent[/] {sent}")
        for failed in outcome.failures:
            app.err.print(f"  [red]not sent[/] {failed}")
    if outcome.failures:
        raise DeliveryError(
            "report written but not delivered: " + "; ".join(outcome.failures),
            where=str(outcome.out_dir),
            fix="fix the delivery settings named above and run the same command again",
        )


COMMANDS = [report]
