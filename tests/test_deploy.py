"""deploy/: the YAML parses, its optimizer.toml validates, its command lines parse with
the real CLI, the systemd units have the keys they need, the crontab line is a schedule."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from croniter import croniter  # type: ignore[import-untyped]

from optimizer.cli import cli
from optimizer.config import load_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def documents(name: str) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d}


def parses(args: list[str]) -> str:
    """The subcommand `args` name, after click parsed every option (nothing runs)."""
    ctx = cli.make_context("optimizer", list(args))
    name, command, rest = cli.resolve_command(ctx, ctx._protected_args + ctx.args)
    assert command is not None and name is not None
    command.make_context(name, rest, parent=ctx)
    return name


def container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    (main,) = pod_spec["containers"]
    return dict(main)


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("kubernetes-cronjob.yaml", {"ConfigMap", "CronJob"}),
        ("kubernetes-daemon.yaml", {"ConfigMap", "Deployment", "Service"}),
    ],
)
def test_kubernetes_manifests_parse_and_their_config_validates(
    name: str, kinds: set[str], tmp_path: Path
) -> None:
    docs = documents(name)
    assert set(docs) == kinds
    toml = tmp_path / "optimizer.toml"
    toml.write_text(docs["ConfigMap"]["data"]["optimizer.toml"])
    config = load_config(toml)
    assert config.run.stale_after_hours == 48
    if "CronJob" in docs:
        spec = docs["CronJob"]["spec"]
        assert croniter.is_valid(spec["schedule"]) and spec["concurrencyPolicy"] == "Forbid"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert parses(container(pod)["args"]) == "run"
    else:
        pod = docs["Deployment"]["spec"]["template"]["spec"]
        main = container(pod)
        assert parses(main["args"]) == "daemon"
        assert docs["Deployment"]["spec"]["replicas"] == 1
        assert pod["terminationGracePeriodSeconds"] >= 60
        port = config.daemon.metrics_port
        assert main["ports"][0]["containerPort"] == port == 9464
        assert docs["Service"]["spec"]["ports"][0]["port"] == port
        assert config.daemon.schedule == "15 2 * * *"
    assert parses(pod["initContainers"][0]["args"]) == "init"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


def test_systemd_timer_and_services_have_the_keys_they_need() -> None:
    timer = unit("optimizer-nightly.timer")
    assert timer["Timer"]["OnCalendar"].endswith("UTC") and timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "optimizer-nightly.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    nightly = unit("optimizer-nightly.service")["Service"]
    assert nightly["Type"] == "oneshot" and "75" in nightly["SuccessExitStatus"]
    assert parses(nightly["ExecStart"].split()[1:]) == "run"
    daemon = unit("optimizer-daemon.service")
    service = daemon["Service"]
    assert service["Type"] == "simple" and service["KillSignal"] == "SIGTERM"
    assert service["TimeoutStopSec"] and service["Restart"] == "on-failure"
    assert parses(service["ExecStart"].split()[1:]) == "daemon"
    assert daemon["Install"]["WantedBy"] == "multi-user.target"
    for name in ("optimizer-nightly.service", "optimizer-daemon.service"):
        env = unit(name)["Service"].get("Environment", "")
        assert env.startswith("OPTIMIZER_") and unit(name)["Unit"]["Description"]


def test_crontab_line_and_its_wrapper() -> None:
    lines = [
        line
        for line in (DEPLOY / "crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    (entry,) = lines
    fields = entry.split()
    assert croniter.is_valid(" ".join(fields[:5]))
    wrapper = DEPLOY / Path(fields[5]).name
    assert wrapper.is_file() and wrapper.stat().st_mode & 0o111
    assert subprocess.run(["bash", "-n", str(wrapper)], check=False).returncode == 0
    assert "run --skip-unbuilt" in wrapper.read_text()
    with pytest.raises(click.UsageError):
        parses(["run", "--no-such-option"])
