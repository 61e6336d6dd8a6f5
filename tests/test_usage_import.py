"""`optimizer collect usage`: long-form series into usage_sample, bad rows quarantined."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from collectors.usage.ingest import import_usage_file
from optimizer.cli import cli
from store.errors import CollectorError, InputFileError
from tests.conftest import run_cli

GOOD = """series_id,timestamp,metric,value
vm-1,2026-01-01T00:00:00Z,cpu_cores,1.5
vm-1,2026-01-01T03:00:00+02:00,cpu_cores,2.5
vm-1,1767229200,memory_gib,4
sg-1,2026-01-01T00:00:00.123456789Z,get_requests,10
"""

# One faulty row per reason, with a blank line and a quoted value spanning two lines
# before some of them, so file line numbers differ from row numbers.
BAD = """Value,METRIC,extra,Series_Id,Timestamp
1,cpu_cores,x,vm-1,2026-01-01T00:00:00Z

2,cpu_cores,x,vm-2,2026-01-01T00:00:00
3,cpu_cores,x,,2026-01-01T00:00:00Z
4,cpu_cores,"two
lines",vm-3,2026-13-01T00:00:00Z
5,CPU,x,vm-4,2026-01-01T00:00:00Z
-1,get_requests,x,vm-4,2026-01-01T00:00:00Z
nan,mem,x,vm-4,2026-01-01T00:00:00Z
abc,mem,x,vm-4,2026-01-01T00:00:00Z
-2,mem,x,vm-4,2026-01-01T00:00:00Z
-3,http_requests_total,x,vm-4,2026-01-01T00:00:00Z
"""


def write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def db(engine: Engine) -> str:
    return str(engine.url.database)


def invoke(engine: Engine, *args: str | Path, json_out: bool = True) -> Result:
    flags = ["--db", db(engine), *(["--json"] if json_out else []), "collect", "usage"]
    return CliRunner().invoke(cli, [*flags, *map(str, args)])


def samples(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT series_id, metric, ts, value, source_key FROM usage_sample "
            "ORDER BY series_id, metric, ts"
        ).all()
    return [tuple(r) for r in rows]


def stamp(value: Any) -> str:
    """The stored naive-UTC timestamp as text, whatever the driver returns."""
    return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)[:19]


def test_csv_offsets_and_epoch_land_in_utc(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "good.csv", GOOD)
    result = invoke(sqlite_engine, path)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["rows_written"] == 4 and payload["failed"] == []
    (f,) = payload["files"]
    assert (f["series"], f["metrics"]) == (2, ["cpu_cores", "get_requests", "memory_gib"])
    assert f["first"] == "2026-01-01T00:00:00+00:00"
    assert f["last"] == "2026-01-01T01:00:00+00:00"
    assert f["source_key"] == f"usage:{path.resolve()}"
    rows = [(s, m, stamp(t)[:19], v) for s, m, t, v, _ in samples(sqlite_engine)]
    assert rows == [
        ("sg-1", "get_requests", "2026-01-01 00:00:00", 10.0),
        ("vm-1", "cpu_cores", "2026-01-01 00:00:00", 1.5),
        ("vm-1", "cpu_cores", "2026-01-01 01:00:00", 2.5),  # 03:00+02:00
        ("vm-1", "memory_gib", "2026-01-01 01:00:00", 4.0),  # epoch 1767229200
    ]


@pytest.mark.parametrize("name", ["u.csv", "u.csv.gz", "u.parquet"])
def test_formats_give_the_same_samples(sqlite_engine: Engine, tmp_path: Path, name: str) -> None:
    if name.endswith(".parquet"):
        table = pa.table(
            {
                "Series_ID": ["vm-1", "vm-1", "vm-1", "sg-1"],
                "timestamp": pa.array(
                    [
                        datetime(2026, 1, 1, 0, tzinfo=UTC),
                        datetime(2026, 1, 1, 1, tzinfo=UTC),
                        datetime(2026, 1, 1, 1, tzinfo=UTC),
                        datetime(2026, 1, 1, 0, tzinfo=UTC),
                    ],
                    pa.timestamp("ms", tz="Europe/Paris"),
                ),
                "metric": ["cpu_cores", "cpu_cores", "memory_gib", "get_requests"],
                "value": [1.5, 2.5, 4, 10],
                "unused": [1, 2, 3, 4],
            }
        )
        pq.write_table(table, tmp_path / name)
        path = tmp_path / name
    else:
        path = write(tmp_path / name, GOOD)
    summary = import_usage_file(sqlite_engine, path)
    assert (summary.rows_read, summary.rows_written, summary.quarantined) == (4, 4, {})
    assert summary.format == name.split(".", 1)[1]
    got = [(s, m, stamp(t)[:19], v) for s, m, t, v, _ in samples(sqlite_engine)]
    assert got[1:3] == [
        ("vm-1", "cpu_cores", "2026-01-01 00:00:00", 1.5),
        ("vm-1", "cpu_cores", "2026-01-01 01:00:00", 2.5),
    ]
    assert len(got) == 4


def test_every_quarantine_reason_is_counted_with_its_line(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path / "bad.csv", BAD)
    result = invoke(sqlite_engine, path)
    assert result.exit_code == 0, result.output
    (f,) = json.loads(result.stdout)["files"]
    assert f["rows_read"] == 10 and f["rows_written"] == 2
    assert f["quarantined"] == {
        "naive_timestamp": 1,
        "empty_series_id": 1,
        "bad_timestamp": 1,
        "bad_metric": 1,
        "negative_counter": 2,
        "non_finite_value": 1,
        "non_numeric_value": 1,
    }
    assert f["quarantined_total"] == 8
    assert f["quarantine_examples"] == [
        "line 4: timestamp has no time zone: add Z or an offset (+02:00) "
        "(timestamp='2026-01-01T00:00:00')",
        "line 5: series_id is empty (series_id=empty)",
        "line 6: timestamp is neither ISO 8601 nor Unix epoch seconds "
        "(timestamp='2026-13-01T00:00:00Z')",
        "line 8: metric must be lower-case letters, digits, '_' or '.' (metric='CPU')",
        "line 9: negative value for a counter metric (value='-1')",
    ]
    # kept: the good first row, and a negative value of a metric that is not a counter
    assert [(s, m, v) for s, m, _, v, _ in samples(sqlite_engine)] == [
        ("vm-1", "cpu_cores", 1.0),
        ("vm-4", "mem", -2.0),
    ]


def test_rich_summary_names_reasons_and_lines(sqlite_engine: Engine, tmp_path: Path) -> None:
    result = invoke(sqlite_engine, write(tmp_path / "bad.csv", BAD), json_out=False)
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "read 10 rows, wrote 2" in out
    assert "negative_counter │ 2" in out
    assert "line 9: negative value for a counter metric" in out
    assert "… and 3 more" in out


def test_parquet_types_and_row_numbers(sqlite_engine: Engine, tmp_path: Path) -> None:
    naive = pa.table(
        {
            "series_id": ["a", "b"],
            "timestamp": pa.array([datetime(2026, 1, 1), None], pa.timestamp("us")),
            "metric": ["cpu_cores", "cpu_cores"],
            "value": [1.0, 2.0],
        }
    )
    pq.write_table(naive, tmp_path / "naive.parquet")
    s = import_usage_file(sqlite_engine, tmp_path / "naive.parquet")
    assert s.quarantined == {"naive_timestamp": 1, "bad_timestamp": 1}
    assert s.quarantine_examples[0].startswith("row 1: timestamp has no time zone")
    epoch = pa.table(
        {
            "series_id": pa.array([1, 2], pa.int64()),  # typed ids become text
            "timestamp": pa.array([1767225600, 1767225600000], pa.int64()),  # 2nd: ms
            "metric": ["gb_retrieved", "gb_retrieved"],
            "value": pa.array([3, 4], pa.int32()),
        }
    )
    pq.write_table(epoch, tmp_path / "epoch.parquet")
    s = import_usage_file(sqlite_engine, tmp_path / "epoch.parquet")
    assert (s.rows_written, s.quarantined) == (1, {"bad_timestamp": 1})
    assert s.quarantine_examples[0].startswith("row 2: ")
    assert [(r[0], stamp(r[2])[:19]) for r in samples(sqlite_engine)] == [
        ("1", "2026-01-01 00:00:00")
    ]


def test_missing_column_writes_nothing_and_exits_3(sqlite_engine: Engine, tmp_path: Path) -> None:
    invoke(sqlite_engine, write(tmp_path / "good.csv", GOOD))
    before = samples(sqlite_engine)
    bad = write(tmp_path / "nometric.csv", "series_id,timestamp,val\nvm-9,1767225600,1\n")
    result = run_cli("--db", db(sqlite_engine), "collect", "usage", str(bad))
    assert result.returncode == 3
    assert "nometric.csv is missing required column(s): metric, value" in result.stderr
    assert "where:" in result.stderr and "header (line 1)" in result.stderr
    assert "To fix:" in result.stderr
    assert samples(sqlite_engine) == before


def test_one_bad_file_among_good_ones(sqlite_engine: Engine, tmp_path: Path) -> None:
    good = write(tmp_path / "good.csv", GOOD)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    other = write(tmp_path / "other.csv.gz", GOOD.replace("vm-1", "vm-2"))
    result = invoke(sqlite_engine, good, broken, other)
    assert isinstance(result.exception, CollectorError)
    assert result.exception.exit_code == 3
    assert "1 of 3 file(s) failed" in result.exception.message
    payload = json.loads(result.stdout)
    assert payload["rows_written"] == 8
    (failed,) = payload["failed"]
    assert failed["path"] == str(broken) and "broken.parquet" in failed["message"]
    assert failed["fix"] and failed["exit_code"] == 3
    assert {r[0] for r in samples(sqlite_engine)} == {"vm-1", "vm-2", "sg-1"}


def test_duplicates_are_averaged_and_reported(sqlite_engine: Engine, tmp_path: Path) -> None:
    text = (
        "series_id,timestamp,metric,value\n"
        "vm-1,2026-01-01T00:00:00Z,cpu_cores,1\n"
        "vm-1,2026-01-01T01:00:00+01:00,cpu_cores,2\n"  # the same instant
        "vm-1,1767225600,cpu_cores,6\n"  # and again, as epoch seconds
        "vm-1,2026-01-01T00:00:00Z,memory_gib,5\n"
    )
    s = import_usage_file(sqlite_engine, write(tmp_path / "d.csv", text))
    assert s.repairs == {"duplicates_averaged": 2}
    assert (s.rows_read, s.rows_valid, s.rows_written) == (4, 2, 2)
    assert [(m, v) for _, m, _, v, _ in samples(sqlite_engine)] == [
        ("cpu_cores", 3.0),
        ("memory_gib", 5.0),
    ]


def test_reimport_is_idempotent_and_replaces_values(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "good.csv", GOOD)
    first = import_usage_file(sqlite_engine, path)
    again = import_usage_file(sqlite_engine, path)
    assert (first.rows_new, again.rows_new, again.rows_updated) == (4, 0, 4)
    before = samples(sqlite_engine)
    assert len(before) == 4
    write(path, GOOD.replace("cpu_cores,1.5", "cpu_cores,7"))
    import_usage_file(sqlite_engine, path, source_key="prometheus")
    after = samples(sqlite_engine)
    assert len(after) == 4
    assert next(r[3] for r in after if r[1] == "cpu_cores") == 7.0
    assert {r[4] for r in after} == {"prometheus"}


def test_dry_run_writes_nothing(sqlite_engine: Engine, tmp_path: Path) -> None:
    result = invoke(sqlite_engine, "--dry-run", write(tmp_path / "bad.csv", BAD))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["dry_run"] is True and payload["rows_written"] == 0
    assert payload["files"][0]["rows_valid"] == 2 and payload["quarantined_total"] == 8
    assert samples(sqlite_engine) == []
    text = invoke(sqlite_engine, "--dry-run", tmp_path / "bad.csv", json_out=False)
    assert "would write 2" in text.stdout


def test_source_key_needs_one_file(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "good.csv", GOOD)
    result = invoke(sqlite_engine, "--source-key", "x", path, path)
    assert result.exit_code == 2 and "one file" in result.output


def test_unreadable_single_file_raises_input_error(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", "series_id,timestamp,metric,value\na,b\n")
    with pytest.raises(InputFileError) as info:
        import_usage_file(sqlite_engine, path)
    assert "ragged.csv" in info.value.message and info.value.fix
    assert samples(sqlite_engine) == []


def test_import_on_postgresql(pg_engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path / "good.csv", GOOD)
    first = import_usage_file(pg_engine, path)
    again = import_usage_file(pg_engine, path)
    assert (first.rows_new, again.rows_updated) == (4, 4)
    rows = samples(pg_engine)
    assert len(rows) == 4
    assert (rows[2][0], rows[2][2].replace(tzinfo=None), rows[2][3]) == (
        "vm-1",
        datetime(2026, 1, 1, 1),
        2.5,
    )
