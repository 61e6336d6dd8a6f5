"""The `optimizer` command line: one group, global options, and error handling."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click

from optimizer import __version__
from optimizer.context import AppContext
from store.errors import OptimizerError

_current: AppContext | None = None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="OPTIMIZER_DB_URL",
    help="Store: a SQLAlchemy URL or a SQLite file path. Env: OPTIMIZER_DB_URL. "
    "Default: ~/.local/share/optimizer/optimizer.db",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="OPTIMIZER_CONFIG",
    help="optimizer.toml with [[sources]]. Env: OPTIMIZER_CONFIG.",
)
@click.option("--json", "json_output", is_flag=True, help="Print results as JSON on stdout.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="optimizer")
@click.pass_context
def cli(
    ctx: click.Context,
    db_url: str | None,
    config_path: Path | None,
    json_output: bool,
    debug: bool,
) -> None:
    """Cross-cloud cost optimizer.

    Pipeline: collect → store → forecast → place → recommend → apply → report.
    """
    global _current
    _current = AppContext(
        db_url=db_url, json_output=json_output, debug=debug, config_path=config_path
    )
    ctx.obj = _current


def _register() -> None:
    from optimizer.commands import (
        apply,
        approvals,
        audit,
        collect,
        collect_cloud,
        collect_reference,
        daemon,
        demo,
        forecast,
        forecast_views,
        pending,
        plan,
        policy,
        report,
        run,
        simulate,
        sources,
        store_cmds,
    )

    for module in (
        store_cmds,
        collect,
        collect_cloud,
        collect_reference,
        demo,
        run,
        daemon,
        forecast,
        forecast_views,
        sources,
        policy,
        plan,
        audit,
        pending,
        approvals,
        simulate,
        apply,
        report,
    ):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def _report(error: OptimizerError, app: AppContext | None) -> None:
    if app and app.json_output and not app.emitted:
        sys.stdout.write(json.dumps(error.as_dict(), indent=2) + "\n")
    click.echo(error.render(), err=True)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: maps errors to exit codes (see optimizer.errors)."""
    try:
        cli.main(args=argv, prog_name="optimizer", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OptimizerError as exc:
        if _current and _current.debug:
            traceback.print_exc()
        _report(exc, _current)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if _current and _current.debug:
            raise
        click.echo(
            f"unexpected error: {type(exc).__name__}: {exc}\n"
            "  To fix: run again with --debug for the traceback, and report it as a bug",
            err=True,
        )
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
