"""Fast, idempotent bulk writes: many rows in, no duplicates, one transaction.

The ORM is too slow for a million billing rows, so bulk loads go straight to the
driver: `executemany` with an upsert on SQLite, and COPY into a staging table
followed by one upsert on PostgreSQL. Values arrive already in the database's text
forms (see collectors.focus.normalize), so no per-value conversion happens here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Connection


def _quote(conn: Connection, name: str) -> str:
    return str(conn.dialect.identifier_preparer.quote(name))


def _placeholders(conn: Connection, count: int) -> str:
    style = conn.dialect.paramstyle
    mark = "?" if style == "qmark" else "%s"
    return ", ".join([mark] * count)


def upsert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    conflict: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert rows; where `conflict` columns match an existing row, update it instead.

    Returns the number of rows sent. Runs inside the caller's transaction.
    """
    update_cols = [c for c in (update if update is not None else columns) if c not in conflict]
    cols_sql = ", ".join(_quote(conn, c) for c in columns)
    conflict_sql = ", ".join(_quote(conn, c) for c in conflict)
    if update_cols:
        sets = ", ".join(f"{_quote(conn, c)} = excluded.{_quote(conn, c)}" for c in update_cols)
        on_conflict = f"ON CONFLICT ({conflict_sql}) DO UPDATE SET {sets}"
    else:
        on_conflict = f"ON CONFLICT ({conflict_sql}) DO NOTHING"
    if conn.dialect.name == "postgresql":
        return _copy_upsert(conn, table, columns, rows, cols_sql, on_conflict)
    sql = (
        f"INSERT INTO {_quote(conn, table)} ({cols_sql}) "
        f"VALUES ({_placeholders(conn, len(columns))}) {on_conflict}"
    )
    data = rows if isinstance(rows, list) else list(rows)
    if data:
        conn.exec_driver_sql(sql, data)
    return len(data)


def _copy_upsert(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    cols_sql: str,
    on_conflict: str,
) -> int:
    stage = f"_stage_{table}"
    dbapi: Any = conn.connection.dbapi_connection  # psycopg's Connection: COPY needs it
    count = 0
    with dbapi.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {cols_sql} "
            f"FROM {_quote(conn, table)} WITH NO DATA"
        )
        cur.execute(f"TRUNCATE {stage}")
        with cur.copy(f"COPY {stage} ({cols_sql}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        cur.execute(
            f"INSERT INTO {_quote(conn, table)} ({cols_sql}) SELECT {cols_sql} FROM {stage} "
            f"{on_conflict}"
        )
        cur.execute(f"TRUNCATE {stage}")
    return count


def delete_where(conn: Connection, table: str, column: str, value: Any) -> int:
    sql = f"DELETE FROM {_quote(conn, table)} WHERE {_quote(conn, column)} = " + (
        "?" if conn.dialect.paramstyle == "qmark" else "%s"
    )
    result = conn.exec_driver_sql(sql, (value,))
    return int(result.rowcount or 0)
