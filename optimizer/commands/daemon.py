"""`optimizer daemon`: the nightly run on a schedule, with metrics and JSON logs."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from optimizer.config import Config, load_config
from optimizer.context import AppContext, pass_app
from optimizer.stages import NOT_BUILT
from store.errors import ConfigError, StageNotBuilt


@click.command()
@click.option(
    "--schedule", metavar="CRON", help="Cron expression (UTC). Default: [daemon] schedule."
)
@click.option(
    "--every",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Run every SECONDS instead of on the cron schedule (tests, quick checks).",
)
@click.option("--once", is_flag=True, help="Wait for the next tick, run once, exit with its code.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="0 = off. Default: 9464.")
@click.option("--metrics-bind", metavar="ADDR", help="Address to bind. Default: 0.0.0.0.")
@click.option(
    "--metrics-textfile", metavar="PATH", help="Also write metrics there (node_exporter)."
)
@click.option("--log-format", type=click.Choice(["json", "text"]), help="Default: json.")
@pass_app
def daemon(
    app: AppContext,
    schedule: str | None,
    every: float | None,
    once: bool,
    metrics_port: int | None,
    metrics_bind: str | None,
    metrics_textfile: str | None,
    log_format: str | None,
) -> None:
    """Run the nightly stages on a cron schedule until SIGTERM or SIGINT.

    The first signal lets the running stage finish, records the rest as aborted,
    releases the run lock and exits 0; a second one interrupts the stage. Logs are
    one JSON object per line on stderr; metrics are served at /metrics
    ([daemon] in optimizer.toml, docs/operations.md)."""
    from optimizer.daemon import logs
    from optimizer.daemon.loop import Daemon, Plan
    from optimizer.daemon.schedule import Schedule, parse

    config = load_config(app.config_path)
    settings = config.daemon
    if schedule is not None:
        try:
            parse(schedule)
        except ValueError as exc:
            raise ConfigError(
                str(exc), where="--schedule", fix='e.g. --schedule "0 2 * * *"'
            ) from exc
    stages = tuple(settings.stages)
    unbuilt = [s for s in stages if s in NOT_BUILT]
    if unbuilt and not settings.skip_unbuilt:
        raise StageNotBuilt(
            "stage(s) not built yet: " + ", ".join(unbuilt),
            where="[daemon] stages",
            fix="drop them from [daemon] stages, or set [daemon] skip_unbuilt = true",
        )
    logs.setup(log_format or settings.log_format)
    plan = Plan(
        schedule=Schedule(schedule or settings.schedule, every),
        stages=stages,
        once=once,
        metrics_port=settings.metrics_port if metrics_port is None else metrics_port,
        metrics_bind=metrics_bind or settings.metrics_bind,
        metrics_textfile=metrics_textfile or _textfile(settings.metrics_textfile, config),
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # the second signal: interrupt the running stage
        stop.set()
        from optimizer.nightly import note

        note("daemon.stopping", signal=signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    engine = app.engine()
    code = Daemon(engine, lambda: load_config(app.config_path), plan, stop).run()
    if code:
        raise click.exceptions.Exit(code)


def _textfile(path: str | None, config: Config) -> str | None:
    """A relative textfile path is relative to the config file's folder."""
    if not path:
        return None
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else config.base_dir / p)


COMMANDS = [daemon]
