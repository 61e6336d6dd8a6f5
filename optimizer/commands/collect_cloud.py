"""`optimizer collect aws|azure|gcp|all`: every configured source of one cloud, or every
source, into the store (issue #5).

Attaches to the existing `collect` group on import, replacing its "not built" stubs.
One failing source never stops the others; the exit code is 3 when any failed.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from optimizer.commands.collect import collect
from optimizer.context import AppContext, pass_app
from store.errors import CollectorError, ConfigError

STYLE = {"ok": "green", "no_data": "yellow", "throttled": "yellow"}
LABEL = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


@collect.command("aws")
@click.option("--source", "name", help="Only the AWS source with this name.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout.")
@pass_app
def collect_aws(app: AppContext, name: str | None, as_json: bool) -> None:
    """Collect spend (Cost Explorer), EC2 inventory, CPU utilization (CloudWatch) and S3
    storage groups from each `type = "aws"` source in the config.

    Each run re-reads the days since the source's watermark plus `restate_days` and
    replaces them, so re-runs never double count. Credentials come from boto3's chain
    (environment, profiles, SSO, instance roles), never from the config.
    """
    collect_cloud(app, "aws", name, as_json)


@collect.command("azure")
@click.option("--source", "name", help="Only the Azure source with this name.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout.")
@pass_app
def collect_azure(app: AppContext, name: str | None, as_json: bool) -> None:
    """Collect daily spend (Cost Management query: actual and amortized cost per
    subscription and service) from each `type = "azure"` source in the config.

    Each run re-reads the days since the source's watermark plus `restate_days` and
    replaces them, so re-runs never double count. Credentials come from azure-identity's
    DefaultAzureCredential (environment, managed identity, Azure CLI), never from the config.
    """
    collect_cloud(app, "azure", name, as_json)


@collect.command("gcp")
@click.option("--source", "name", help="Only the GCP source with this name.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout.")
@pass_app
def collect_gcp(app: AppContext, name: str | None, as_json: bool) -> None:
    """Collect spend (BigQuery billing export), Compute Engine prices (Cloud Billing
    Catalog), instances, CPU utilization (Cloud Monitoring) and Cloud Storage buckets
    from each `type = "gcp"` source in the config.

    Each run re-reads the days since the source's watermark plus `restate_days` and
    replaces them, so re-runs never double count. Credentials are application default
    credentials (`gcloud auth application-default login`, a service account, workload
    identity), never from the config.
    """
    collect_cloud(app, "gcp", name, as_json)


@collect.command("all")
@pass_app
def collect_all(app: AppContext) -> None:
    """Every configured source (FOCUS files and clouds), as the nightly run's collect
    stage does: one failing source never stops the others; exit 3 when any failed.
    Sources whose collector is not built yet are listed, not faked."""
    from optimizer.config import load_config
    from optimizer.pipeline import Hooks, collect_stage

    config = load_config(app.config_path)
    if not config.sources:
        raise ConfigError(
            "no sources configured",
            fix="add [[sources]] entries to optimizer.toml (see docs/configuration.md)",
        )
    result = collect_stage(app.engine(), config, Hooks())
    if app.json_output:
        app.emit_json({"status": result.status, "detail": result.detail, **result.data})
    else:
        app.out.print(f"collect all: {result.status}, {result.detail}")
        for problem in result.data.get("failures", []):
            app.out.print(f"  [red]✗[/] {problem}")
        for pending in result.data.get("not_built", []):
            app.out.print(f"  [dim]– {pending}[/]")
    if result.status != "ok":
        raise CollectorError(
            f"collect all: {result.status}: " + "; ".join(result.data.get("failures", [])),
            fix="follow each source's hint; `optimizer sources test` re-checks them",
        )


def collect_cloud(app: AppContext, cloud: str, name: str | None, as_json: bool) -> None:
    """Run every source of type `cloud` (or only `name`), print, exit 3 if any failed."""
    from optimizer.audit_events import cloud_run
    from optimizer.config import load_config
    from optimizer.sources_check import NotBuilt, collector_for

    label = LABEL[cloud]
    app.json_output = app.json_output or as_json
    config = load_config(app.config_path)
    chosen = [s for s in config.sources if s.type == cloud and (name is None or s.name == name)]
    if not chosen:
        raise ConfigError(
            f"no {label} source configured" + (f" named {name!r}" if name else ""),
            fix=f'add a [[sources]] entry with type = "{cloud}" to optimizer.toml '
            f"(see docs/collectors-{cloud}.md) and pass it with --config or OPTIMIZER_CONFIG",
        )
    engine = app.engine()
    results: list[dict[str, Any]] = []
    for source in chosen:
        try:
            collector = collector_for(source)
        except NotBuilt as exc:
            results.append({"source": source.name, "status": "invalid_config",
                            "detail": str(exc), "hint": "", "rows": {}, "api_calls": {},
                            "quarantined": {}})  # fmt: skip
            continue
        results.append(collector.collect(engine).as_dict())
        cloud_run(engine, cloud, results[-1])
    if app.json_output:
        app.emit_json(results)
    else:
        _print(app, f"collect {cloud}", results)
    failed = [r["source"] for r in results if r["status"] not in ("ok", "no_data")]
    if failed:
        raise CollectorError(
            f"{len(failed)} of {len(results)} {label} source(s) failed: {', '.join(failed)}; "
            "the others were stored",
            fix="follow each source's hint; `optimizer sources test` re-checks them",
        )


def _print(app: AppContext, title: str, results: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for col in ("source", "status", "window", "rows", "API calls", "quarantined"):
        table.add_column(col, overflow="fold")
    for r in results:
        style = STYLE.get(r["status"], "red")
        window = " → ".join(r["window"]) if r.get("window") else "-"
        rows = ", ".join(f"{k} {v:,}" for k, v in r["rows"].items()) or "-"
        calls = ", ".join(f"{k} {v}" for k, v in r["api_calls"].items()) or "-"
        bad = ", ".join(f"{k}: {v}" for k, v in r["quarantined"].items()) or "-"
        table.add_row(r["source"], f"[{style}]{r['status']}[/]", window, rows, calls, bad)
    app.out.print(table)
    for r in results:
        if r["status"] not in ("ok", "no_data"):
            app.err.print(f"{r['source']}: {r['detail']}", markup=False)
            if r["hint"]:
                app.err.print(f"  To fix: {r['hint']}", markup=False)


COMMANDS: list[click.Command] = []  # `collect aws|azure|gcp` attach to `collect` on import
