"""The real `optimizer` entry point in a subprocess: output, JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.focus_files import base_row, total, write_focus_csv

cli = run_cli


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = str(tmp_path / "cli.db")
    assert cli("--db", url, "init").returncode == 0
    return url


def test_version_and_help() -> None:
    out = cli("--version")
    assert out.returncode == 0 and "optimizer" in out.stdout
    helptext = cli("--help").stdout
    for command in (
        "init",
        "demo",
        "collect",
        "status",
        "forecast",
        "plan",
        "recommendations",
        "apply",
        "report",
        "simulate",
        "run",
        "daemon",
        "policy",
    ):
        assert command in helptext


def test_init_is_idempotent_and_status_reports_empty_store(db: str) -> None:
    again = cli("--db", db, "--json", "init")
    assert json.loads(again.stdout)["revision_before"] == json.loads(again.stdout)["revision"]
    status = json.loads(cli("--db", db, "--json", "status").stdout)
    assert status["counts"]["cost_record"] == 0
    assert status["costs"]["billed_cost_total"] == "0"


def test_status_on_a_store_that_was_never_initialised(tmp_path: Path) -> None:
    out = cli("--db", str(tmp_path / "none.db"), "status")
    assert out.returncode == 2
    assert "optimizer init" in out.stderr and "To fix" in out.stderr


def test_collect_focus_json_summary(db: str, tmp_path: Path) -> None:
    rows = [base_row(i, cost="0.1") for i in range(7)]
    path = write_focus_csv(tmp_path / "a.csv", rows)
    out = cli("--db", db, "--json", "collect", "focus", str(path))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["rows"] == 7
    assert summary["billed_cost_total"] == str(total(rows)) == "0.7"
    assert summary["effective_cost_total"] == "0.7"
    status = json.loads(cli("--db", db, "--json", "status").stdout)
    assert status["sources"][0]["rows"] == 7 and status["sources"][0]["last_status"] == "ok"


def test_broken_file_exits_3_names_the_problem_and_changes_nothing(db: str, tmp_path: Path) -> None:
    good = write_focus_csv(tmp_path / "good.csv", [base_row(i) for i in range(3)])
    cli("--db", db, "collect", "focus", str(good))
    rows = [base_row(i) for i in range(5)]
    rows[4]["EffectiveCost"] = "n/a"
    bad = write_focus_csv(tmp_path / "bad.csv", rows)
    out = cli("--db", db, "collect", "focus", str(bad))
    assert out.returncode == 3
    assert "bad.csv: row 5, column EffectiveCost" in out.stderr
    assert "To fix:" in out.stderr
    status = json.loads(cli("--db", db, "--json", "status").stdout)
    assert status["costs"]["rows"] == 3


def test_one_bad_file_does_not_stop_the_others(db: str, tmp_path: Path) -> None:
    good = write_focus_csv(tmp_path / "good.csv", [base_row(i) for i in range(4)])
    bad = tmp_path / "bad.csv"
    bad.write_text("BilledCost\n1\n")
    out = cli("--db", db, "--json", "collect", "focus", str(bad), str(good))
    assert out.returncode == 3
    payload = json.loads(out.stdout)
    assert payload["rows"] == 4
    assert [f["rows"] for f in payload["files"]] == [4]
    assert payload["failed"][0]["path"].endswith("bad.csv")


def test_apply_with_nothing_approved_says_how_to_approve(db: str) -> None:
    out = cli("--db", db, "apply")
    assert out.returncode == 0, out.stderr
    assert "Dry run" in out.stdout and "recommendations approve" in out.stdout


def test_export_focus(db: str, tmp_path: Path) -> None:
    rows = [base_row(i) for i in range(5)]
    cli("--db", db, "collect", "focus", str(write_focus_csv(tmp_path / "a.csv", rows)))
    out = cli("--db", db, "--json", "export", "focus", "--out", str(tmp_path / "o.parquet"))
    payload = json.loads(out.stdout)
    assert payload["rows"] == 5 and payload["billed_cost_total"] == str(total(rows))
    bad = cli("--db", db, "export", "focus", "--out", str(tmp_path / "o.xlsx"))
    assert bad.returncode == 2 and "*.csv or *.parquet" in bad.stderr


def test_run_collects_configured_focus_sources(db: str, tmp_path: Path) -> None:
    write_focus_csv(tmp_path / "exports" / "m1.csv", [base_row(i) for i in range(6)]) if (
        tmp_path / "exports"
    ).mkdir() is None else None
    config = tmp_path / "optimizer.toml"
    config.write_text('[[sources]]\ntype = "focus"\nname = "finance"\npaths = ["exports/*.csv"]\n')
    run = ("run", "--allow-stale")  # the rows are from 2024: stale data
    out = cli("--db", db, "--config", str(config), "--json", *run)
    assert out.returncode == 2, out.stderr  # the plan stage has no policy file: a config error
    assert "plan: no policy file" in out.stderr
    stages = {s["name"]: s for s in json.loads(out.stdout)["stages"]}
    assert stages["collect"]["status"] == "ok" and stages["collect"]["rows"] == 6
    assert stages["plan"]["status"] == "failed"
    assert stages["forecast"]["status"] == "ok" and stages["forecast"]["series"] >= 1
    assert stages["apply"]["status"] == "ok" and stages["apply"]["applied"] == 0
    assert stages["report"]["status"] == "ok", stages["report"]
    examples = Path(__file__).resolve().parents[1] / "examples" / "policies"
    (tmp_path / "policies.yaml").write_text((examples / "spot.yaml").read_text())
    config.write_text(config.read_text() + '\n[policies]\npath = "policies.yaml"\n')
    planned = cli("--db", db, "--config", str(config), "--json", *run)
    assert planned.returncode == 0, planned.stderr
    stages = {s["name"]: s for s in json.loads(planned.stdout)["stages"]}
    assert stages["plan"]["status"] == "ok" and stages["plan"]["plan_id"] == 1
    again = cli("--db", db, "--config", str(config), "--json", "run", "--stages", "collect")
    assert again.returncode == 0
    status = json.loads(cli("--db", db, "--json", "status").stdout)
    assert status["costs"]["rows"] == 6 and status["counts"]["run"] == 3


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("[[sources]\n", "not valid TOML"),
        ('[[sources]]\ntype = "focus"\nname = "x"\n', "paths"),
        ('[[sources]]\ntype = "focus"\nname = "x"\npaths = ["a"]\npath = "b"\n', "path"),
        ('[[sources]]\ntype = "oracle"\nname = "x"\n', "type"),
    ],
)
def test_config_errors_name_file_and_field(db: str, tmp_path: Path, text: str, expect: str) -> None:
    config = tmp_path / "optimizer.toml"
    config.write_text(text)
    out = cli("--db", db, "--config", str(config), "run", "--stages", "collect")
    assert out.returncode == 2
    assert "optimizer.toml" in out.stderr and expect in out.stderr and "To fix" in out.stderr


def test_policy_validate_and_schema(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples" / "policies"
    out = cli("--json", "policy", "validate", str(examples / "all.yaml"))
    assert out.returncode == 0, out.stderr
    types = {p["type"] for p in json.loads(out.stdout)["policies"]}
    assert {
        "residency",
        "latency",
        "spot",
        "capacity",
        "spread",
        "change-budget",
        "tiering",
        "commitments",
        "approval",
    } <= types
    schema = json.loads(cli("policy", "schema").stdout)
    assert schema["title"].startswith("optimizer policy file")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\npolicies:\n  - name: x\n    type: spot\n    max_shar: 0.5\n")
    out = cli("policy", "validate", str(bad))
    assert out.returncode == 2
    assert "bad.yaml:5" in out.stderr and "'x'" in out.stderr and "max_share" in out.stderr
    missing = cli("policy", "explain", "wl-1")
    assert missing.returncode == 2 and "--policies" in missing.stderr


def test_policy_file_from_config(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples" / "policies"
    (tmp_path / "policies.yaml").write_text((examples / "spot.yaml").read_text())
    config = tmp_path / "optimizer.toml"
    config.write_text('[policies]\npath = "policies.yaml"\n')
    out = cli("--config", str(config), "--json", "policy", "validate")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"].endswith("policies.yaml")
    none = cli("policy", "validate")
    assert none.returncode == 2 and "[policies] path" in none.stderr
