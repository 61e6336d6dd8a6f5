"""`optimizer sources list|test`: the configured sources, and whether each works now."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from optimizer.config import load_config
from optimizer.context import AppContext, pass_app
from store.errors import CollectorError, ConfigError

STYLE = {"ok": "green", "no_data": "yellow", "throttled": "yellow"}
SECRET_HINTS = ("secret", "password", "token", "key")  # never printed, even if configured


def _settings(source: Any) -> dict[str, Any]:
    """What the source is configured with, minus its name and type, and minus anything
    that looks like a credential (credentials belong to each SDK's chain, not here)."""
    raw = source.model_dump(exclude_none=True)
    return {
        k: v
        for k, v in raw.items()
        if k not in ("type", "name") and not any(h in k.lower() for h in SECRET_HINTS)
    }


def _configured(app: AppContext, name: str | None) -> tuple[Any, list[Any]]:
    config = load_config(app.config_path)
    chosen = [s for s in config.sources if name is None or s.name == name]
    if not config.sources:
        raise ConfigError(
            "no sources configured",
            fix="add [[sources]] entries to optimizer.toml (see docs/configuration.md) and "
            "pass it with --config or OPTIMIZER_CONFIG",
        )
    if not chosen:
        known = ", ".join(s.name for s in config.sources)
        raise ConfigError(f"no source named {name!r}", fix=f"use one of: {known}")
    return config, chosen


@click.group()
def sources() -> None:
    """The configured sources ([[sources]] in optimizer.toml) and their status."""


@sources.command("list")
@pass_app
def list_cmd(app: AppContext) -> None:
    """Each configured source with its settings and what it last brought into the store."""
    from store.status import store_status

    _config, chosen = _configured(app, None)
    with app.engine().connect() as conn:
        states = {s.source_key: s for s in store_status(conn).sources}

    def state_of(name: str) -> Any:
        keys = [k for k in states if k == name or k.startswith(f"{name}:")]
        return states[max(keys, key=lambda k: str(states[k].last_success_at))] if keys else None

    rows = []
    for s in chosen:
        st = state_of(s.name)
        rows.append({
            "name": s.name, "type": s.type, "settings": _settings(s),
            "last_status": st.last_status if st else "never",
            "last_success_at": st.last_success_at if st else None,
            "rows": st.rows if st else 0,
        })  # fmt: skip
    if app.json_output:
        app.emit_json(rows)
        return
    table = Table(title=f"{len(rows)} source(s)")
    for col in ("name", "type", "settings", "last status", "last success", "rows"):
        table.add_column(col, overflow="fold")
    for r in rows:
        when = r["last_success_at"]
        table.add_row(r["name"], r["type"], ", ".join(f"{k}={v}" for k, v in r["settings"].items()),
                      r["last_status"], when.strftime("%Y-%m-%d %H:%M") if when else "-",
                      f"{r['rows']:,}")  # fmt: skip
    app.out.print(table)


@sources.command("test")
@click.option("--source", "name", help="Only the source with this name.")
@pass_app
def test_cmd(app: AppContext, name: str | None) -> None:
    """Try each source with its cheapest read call: ok, invalid config, auth failed,
    permission denied (with the missing permission), throttled, no data yet, unreachable.
    Exit code 3 when any is not ok."""
    from optimizer.sources_check import check_source

    config, chosen = _configured(app, name)
    results = [(s, check_source(config, s)) for s in chosen]
    if app.json_output:
        app.emit_json([{"name": s.name, "type": s.type, **c.as_dict()} for s, c in results])
    else:
        table = Table(title="source test")
        for col in ("name", "type", "status", "detail", "hint"):
            table.add_column(col, overflow="fold")
        for s, c in results:
            style = STYLE.get(c.status, "red")
            detail = c.detail + (
                f" (missing: {c.missing_permission})" if c.missing_permission else ""
            )
            table.add_row(s.name, s.type, f"[{style}]{c.status}[/]", detail, c.hint)
        app.out.print(table)
    bad = [s.name for s, c in results if c.status != "ok"]
    if bad:
        raise CollectorError(
            f"{len(bad)} of {len(results)} source(s) not ok: {', '.join(bad)}",
            fix="follow each source's hint above; docs/permissions.md lists what each needs",
        )


COMMANDS = [sources]
