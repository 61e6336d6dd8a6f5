"""FOCUS ingest benchmark: our pipeline against plain pandas, on SQLite and PostgreSQL.

Why this shape: the issue's goals (>= 100k rows/s into SQLite, < 500 MB peak at 1M rows,
faster than `pd.read_csv` + `DataFrame.to_sql`) only mean something when the baseline runs
on the same file, machine and moment, so both are measured in the same run. Each
measurement is a fresh subprocess: its peak RSS is its own and no run warms or pollutes
the next. The clock covers the ingest only (imports and schema creation come first).
See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = "100000,1000000"
GOAL_SQLITE_ROWS_PER_S = 100_000
GOAL_PEAK_MB_AT_1M = 500
# Text lengths of a typical stored cost_record row (0 = NULL), for the driver floor.
FLOOR_WIDTHS = (32, 40, 3, 13, 13, 13, 13, 3, 15, 26, 26, 26, 26, 5, 0, 11, 8, 3, 14, 26, 9,
                9, 0, 62, 16, 0, 0, 17, 5, 13, 5, 87, 393, 20)  # fmt: skip


def _peak_mb() -> float:
    """This process's peak RSS: ru_maxrss is KiB on Linux."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure_ours(url: str, path: Path) -> dict[str, Any]:
    from collectors.focus.ingest import ingest_file
    from store import costs
    from store.engine import make_engine
    from store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    base = _peak_mb()  # interpreter, imports and schema: paid before the first row
    started = time.perf_counter()
    summary = ingest_file(engine, path)
    seconds, peak = time.perf_counter() - started, _peak_mb()
    with engine.connect() as conn:  # what the store really holds, read after the clock
        stored = costs.totals(conn)
    # pyarrow imports pandas (~60 MB) on its first pa.array() when pandas is installed,
    # as it is in the dev venv; a plain `pip install optimizer` has no pandas.
    return {"seconds": seconds, "peak_mb": peak, "base_mb": base, "rows": summary.rows,
            "pandas_loaded": "pandas" in sys.modules,
            "billed_total": str(summary.billed_cost_total), "stored_rows": stored.rows,
            "stored_total": str(stored.billed_cost)}  # fmt: skip


def _measure_pandas(url: str, path: Path) -> dict[str, Any]:
    """The plain baseline users write: default inference, no validation, floats for money."""
    import pandas as pd  # type: ignore[import-untyped]
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect():  # open the pool before the clock, as ours does via upgrade()
        pass
    started = time.perf_counter()
    df = pd.read_csv(path)
    df.to_sql("cost_baseline", engine, if_exists="replace", index=False, chunksize=50_000)
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "rows": len(df)}


def _measure_floor(url: str, rows: int) -> dict[str, Any]:
    """What sqlite3's executemany alone costs for pre-built rows, indexes as in cost_record.

    The connection comes from store.engine, so its pragmas (WAL, page cache) stay the store's.
    """
    from store.engine import make_engine

    con: Any = make_engine(url).raw_connection().driver_connection
    cols = [f"c{i}" for i in range(len(FLOOR_WIDTHS))]
    con.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, {', '.join(cols)}, UNIQUE (c0))")
    con.execute("CREATE INDEX t_period ON t (c11, c17)")  # charge_period_start, provider
    con.execute("CREATE INDEX t_source ON t (c1)")
    template = [("x" * w) if w else None for w in FLOOR_WIDTHS]
    data = []
    for i in range(rows):
        row = list(template)
        row[0] = hashlib.blake2b(i.to_bytes(8, "big"), digest_size=16).hexdigest()
        row[11] = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:00:00.000000"
        data.append(tuple(row))
    sql = f"INSERT INTO t ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    started = time.perf_counter()
    con.execute("BEGIN")
    con.executemany(sql, data)
    con.commit()
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "rows": rows}


def _child(kind: str, url: str, path: Path, rows: int) -> None:
    if kind == "ours":
        out = _measure_ours(url, path)
    elif kind == "pandas":
        out = _measure_pandas(url, path)
    else:
        out = _measure_floor(url, rows)
    # Cross-check: this mm's own high-water mark. ru_maxrss also counts the parent's RSS
    # at spawn (Linux carries it over exec), so the parent must stay small.
    status = Path("/proc/self/status").read_text() if sys.platform == "linux" else ""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            out["vm_hwm_mb"] = int(line.split()[1]) / 1024
    print(json.dumps(out))


def _input(workdir: Path, rows: int) -> tuple[Path, Decimal]:
    """The FOCUS file for `rows`, generated once and cached with its exact total."""
    path, total_file = workdir / f"focus-{rows}.csv", workdir / f"focus-{rows}.total"
    if path.exists() and total_file.exists():
        print(f"input {path.name}: cached")
        return path, Decimal(total_file.read_text().strip())
    sys.path.insert(0, str(Path(__file__).parent))
    from make_focus import make_focus

    started = time.perf_counter()
    tmp = path.with_suffix(".tmp.csv")
    total = make_focus(tmp, rows)
    tmp.replace(path)
    total_file.write_text(f"{total}\n")
    print(f"input {path.name}: generated in {time.perf_counter() - started:.1f}s (not counted)")
    return path, total


class Target:
    """A fresh database per measurement: a SQLite file, or a PostgreSQL database."""

    def __init__(self, name: str, workdir: Path, pg_url: str | None, keep: bool) -> None:
        self.name, self.workdir, self.pg_url, self.keep = name, workdir, pg_url, keep

    def _pg(self, sql: str) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(str(self.pg_url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
        engine.dispose()

    def create(self, label: str) -> str:
        if self.name == "sqlite":
            self.drop(db := f"sqlite:///{self.workdir / label}.db", force=True)
            return db
        import sqlalchemy as sa

        name = label.replace("-", "_")
        self._pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._pg(f"CREATE DATABASE {name}")
        return sa.make_url(str(self.pg_url)).set(database=name).render_as_string(False)

    def drop(self, url: str, force: bool = False) -> None:
        if self.keep and not force:
            return
        if self.name == "postgresql":
            self._pg(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)


def _commit() -> str:
    """Last commit of the measured code (read-only git): others may commit during a run."""
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]
    head = subprocess.run([*git, "log", "-1", "--format=%h", "--", "collectors", "store"],
                          capture_output=True, text=True)  # fmt: skip
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "collectors", "store"],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return head.stdout.strip() + ("+dirty" if dirty else "") if head.returncode == 0 else "?"


def _pg_reason(pg_url: str | None) -> str | None:
    """Why PostgreSQL is skipped, or None when it answers."""
    if not pg_url:
        return "no --pg-url given"
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(pg_url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            print("postgresql:", conn.exec_driver_sql("SHOW server_version").scalar_one())
        engine.dispose()
    except Exception as exc:  # any driver error means: skip, and say why
        return f"unreachable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    return None


def _run(kind: str, target: Target, path: Path, rows: int, label: str) -> dict[str, Any]:
    url = target.create(label)
    load, commit = os.getloadavg()[0], _commit()
    try:
        cmd = [sys.executable, __file__, "--_measure", kind, "--_url", url, "--_path", str(path),
               "--rows", str(rows)]  # fmt: skip
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    finally:
        target.drop(url)
    if proc.returncode != 0:
        print(f"  {label}: FAILED\n{proc.stderr[-2000:]}")
        return {"kind": kind, "commit": commit, "error": proc.stderr[-2000:]}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(kind=kind, target=target.name, size=rows, load_1min=load, commit=commit,
               rows_per_s=out["rows"] / out["seconds"])  # fmt: skip
    base = f" of which {out['base_mb']:.0f} before ingest" if "base_mb" in out else ""
    pandas = ", pandas loaded by pyarrow" if out.get("pandas_loaded") else ""
    print(f"  {label}: {out['rows_per_s']:>9,.0f} rows/s  {out['seconds']:7.2f}s  "
          f"peak {out['peak_mb']:6.0f} MB{base}{pandas}  "
          f"(load {load:.2f}, code {commit})")  # fmt: skip
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default=SIZES, help="comma-separated sizes (default %(default)s)")
    p.add_argument("--targets", default="sqlite,postgresql")
    p.add_argument("--pg-url", default=None, help="SQLAlchemy URL of a PostgreSQL server")
    p.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out")
    p.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    p.add_argument("--json", type=Path, default=None, help="write all results to this file")
    p.add_argument("--repeat", type=int, default=1, help="runs per cell; the median is shown")
    for hidden in ("--_measure", "--_url", "--_path"):
        p.add_argument(hidden, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._measure:
        _child(a._measure, a._url, Path(a._path), int(a.rows))
        return 0
    sizes = [int(s) for s in a.rows.split(",")]
    a.workdir.mkdir(parents=True, exist_ok=True)
    print(f"code {_commit()}  cores {os.cpu_count()}  load average at start {os.getloadavg()}")
    targets = [t for t in a.targets.split(",") if t]
    if "postgresql" in targets and (reason := _pg_reason(a.pg_url)):
        print(f"postgresql skipped: {reason}")
        targets.remove("postgresql")
    results: list[dict[str, Any]] = []
    table, failed = [], False
    for size in sizes:
        path, expected = _input(a.workdir, size)
        for name in targets:
            target = Target(name, a.workdir, a.pg_url, a.keep)
            cell: dict[str, list[dict[str, Any]]] = {"ours": [], "pandas": []}
            for rep in range(a.repeat):
                for kind in ("ours", "pandas"):
                    r = _run(kind, target, path, size, f"bench-{kind}-{name}-{size}-{rep}")
                    results.append(r)
                    if "error" in r:
                        failed = True
                        continue
                    cell[kind].append(r)
                    if kind == "ours":
                        ok = Decimal(r["billed_total"]) == expected == Decimal(r["stored_total"])
                        ok = ok and r["rows"] == r["stored_rows"] == size
                        r["total_ok"], failed = ok, failed or not ok
                        print(f"    BilledCost {r['billed_total']} stored {r['stored_total']} "
                              f"({r['stored_rows']:,} rows) vs generator {expected}: "
                              f"{'OK' if ok else 'MISMATCH'}")  # fmt: skip
            if cell["ours"] and cell["pandas"]:
                table.append((size, name, cell["ours"], cell["pandas"]))
        if "sqlite" in targets:
            floor = _run("floor", Target("sqlite", a.workdir, None, a.keep), path, size,
                         f"bench-floor-sqlite-{size}")  # fmt: skip
            results.append(floor)
    print(f"load average at end: {os.getloadavg()}")
    if len(commits := {r["commit"] for r in results if "commit" in r}) > 1:
        print(f"WARNING: the code changed during the run ({', '.join(sorted(commits))})")
    goals = _report(table)
    for f in (r for r in results if r.get("kind") == "floor" and "error" not in r):
        print(f"driver floor (sqlite3 executemany, {f['size']:,} pre-built rows): "
              f"{f['rows_per_s']:,.0f} rows/s")  # fmt: skip
    if a.json:
        a.json.write_text(json.dumps({"results": results, "goals": goals}, indent=2) + "\n")
    return 1 if failed else 0


def _report(table: list[tuple[int, str, list[dict[str, Any]], list[dict[str, Any]]]]) -> list[str]:
    """Print the figures and the goal checks; return the goal lines."""
    med = statistics.median
    print(f"\n{'rows':>9} {'target':<10} {'ours r/s':>9} {'ours MB':>8} {'pandas r/s':>10} "
          f"{'pandas MB':>9} {'ours/pandas':>11} {'total':>5}")  # fmt: skip
    goals = []
    for size, name, ours, pandas in table:
        o_rate, p_rate = med(r["rows_per_s"] for r in ours), med(r["rows_per_s"] for r in pandas)
        o_mb, p_mb = max(r["peak_mb"] for r in ours), max(r["peak_mb"] for r in pandas)
        ok = "OK" if all(r["total_ok"] for r in ours) else "MISMATCH"
        print(f"{size:>9,} {name:<10} {o_rate:>9,.0f} {o_mb:>8.0f} {p_rate:>10,.0f} "
              f"{p_mb:>9.0f} {o_rate / p_rate:>10.2f}x {ok:>5}")  # fmt: skip
        verdict = "PASS" if o_rate > p_rate else "FAIL"
        goals.append(f"{verdict} faster than pandas ({size:,} rows, {name}): "
                     f"{o_rate / p_rate:.2f}x")  # fmt: skip
        if name == "sqlite":
            verdict = "PASS" if o_rate >= GOAL_SQLITE_ROWS_PER_S else "FAIL"
            goals.append(f"{verdict} >= 100k rows/s into SQLite ({size:,} rows): {o_rate:,.0f}")
        if size == 1_000_000:
            verdict = "PASS" if o_mb < GOAL_PEAK_MB_AT_1M else "FAIL"
            goals.append(f"{verdict} peak < 500 MB at 1M rows ({name}): {o_mb:.0f} MB")
    print("\ngoals:\n  " + "\n  ".join(goals or ["none measured"]))
    return goals


if __name__ == "__main__":
    sys.exit(main())
