"""`optimizer collect aws`: every configured AWS source into the store (issue #5).

Attaches to the existing `collect` group on import, replacing its "not built" stub.
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
    from optimizer.config import load_config
    from optimizer.sources_check import NotBuilt, collector_for

    app.json_output = app.json_output or as_json
    config = load_config(app.config_path)
    chosen = [s for s in config.sources if s.type == "aws" and (name is None or s.name == name)]
    if not chosen:
        raise ConfigError(
            "no AWS source configured" + (f" named {name!r}" if name else ""),
            fix='add a [[sources]] entry with type = "aws" to optimizer.toml '
            "(see docs/collectors-aws.md) and pass it with --config or OPTIMIZER_CONFIG",
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
    if app.json_output:
        app.emit_json(results)
    else:
        _print(app, results)
    failed = [r["source"] for r in results if r["status"] not in ("ok", "no_data")]
    if failed:
        raise CollectorError(
            f"{len(failed)} of {len(results)} AWS source(s) failed: {', '.join(failed)}; "
            "the others were stored",
            fix="follow each source's hint; `optimizer sources test` re-checks them",
        )


def _print(app: AppContext, results: list[dict[str, Any]]) -> None:
    table = Table(title="collect aws")
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


COMMANDS: list[click.Command] = []  # `collect aws` attaches to `collect` on import
