"""`optimizer sources list|test`: every configured source, its settings without secrets,
and a status with a hint; credentials in the config are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.focus_files import base_row, write_focus_csv

cli = run_cli


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = str(tmp_path / "s.db")
    assert cli("--db", url, "init").returncode == 0
    return url


def config(tmp_path: Path, body: str) -> str:
    path = tmp_path / "optimizer.toml"
    path.write_text(body)
    return str(path)


FOCUS = '[[sources]]\ntype = "focus"\nname = "finance"\npaths = ["exports/*.csv"]\n'
# A GCP source whose endpoints are a closed loopback port: down, quickly, on any machine.
DOWN = "http://127.0.0.1:9"
GCP = (
    '[[sources]]\ntype = "gcp"\nname = "corp"\nbilling_account = "012345-6789AB-CDEF01"\n'
    'projects = ["shop-prod-1"]\nbigquery_table = "shop-prod-1.billing.export"\n'
    f'max_attempts = 1\nendpoints = {{ bigquery = "{DOWN}", catalog = "{DOWN}", '
    f'compute = "{DOWN}", storage = "{DOWN}", monitoring = "127.0.0.1:9" }}\n'
)


def test_test_reports_each_source_with_a_hint_and_exits_3(db: str, tmp_path: Path) -> None:
    cfg = config(tmp_path, FOCUS + GCP)
    out = cli("--db", db, "--config", cfg, "--json", "sources", "test")
    assert out.returncode == 3, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["finance"]["status"] == "no_data" and "globs" in rows["finance"]["hint"]
    assert rows["corp"]["status"] == "unreachable" and "endpoints" in rows["corp"]["hint"]
    assert "To fix:" in out.stderr


def test_a_working_focus_source_is_ok_and_listed_after_a_run(db: str, tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    write_focus_csv(tmp_path / "exports" / "m1.csv", [base_row(i) for i in range(3)])
    cfg = config(tmp_path, FOCUS)
    tested = cli("--db", db, "--config", cfg, "--json", "sources", "test")
    assert tested.returncode == 0 and json.loads(tested.stdout)[0]["status"] == "ok"
    assert cli("--db", db, "--config", cfg, "run", "--stages", "collect").returncode == 0
    listed = json.loads(cli("--db", db, "--config", cfg, "--json", "sources", "list").stdout)
    assert listed[0]["name"] == "finance" and listed[0]["last_status"] == "ok"
    assert listed[0]["rows"] == 3 and listed[0]["settings"] == {"paths": ["exports/*.csv"]}


def test_credentials_in_the_config_are_refused_and_never_echoed(db: str, tmp_path: Path) -> None:
    cfg = config(tmp_path, GCP + 'client_secret = "hunter2"\n')
    out = cli("--db", db, "--config", cfg, "sources", "list")
    assert out.returncode == 2
    assert "credentials never go in optimizer.toml" in out.stderr
    assert "hunter2" not in out.stderr + out.stdout


def test_unknown_source_name_and_no_sources(db: str, tmp_path: Path) -> None:
    out = cli("--db", db, "--config", config(tmp_path, FOCUS), "sources", "test", "--source", "x")
    assert out.returncode == 2 and "use one of: finance" in out.stderr
    empty = cli("--db", db, "--config", config(tmp_path, ""), "sources", "list")
    assert empty.returncode == 2 and "no sources configured" in empty.stderr


def test_collect_all_runs_every_source_one_down_does_not_stop_the_others(
    db: str, tmp_path: Path
) -> None:
    (tmp_path / "exports").mkdir()
    write_focus_csv(tmp_path / "exports" / "m1.csv", [base_row(i) for i in range(4)])
    ok = cli("--db", db, "--config", config(tmp_path, FOCUS), "--json", "collect", "all")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["rows"] == 4
    mixed = cli("--db", db, "--config", config(tmp_path, FOCUS + GCP), "--json", "collect", "all")
    payload = json.loads(mixed.stdout)
    assert mixed.returncode == 3 and payload["rows"] == 4, mixed.stderr
    assert any(line.startswith("corp: unreachable") for line in payload["failures"]), payload
    listed = json.loads(cli("--db", db, "--config", config(tmp_path, FOCUS + GCP), "--json",
                            "sources", "list").stdout)  # fmt: skip
    by_name = {r["name"]: r for r in listed}
    assert by_name["finance"]["last_status"] == "ok" and by_name["finance"]["rows"] == 4
    assert by_name["corp"]["last_status"] == "failed"
