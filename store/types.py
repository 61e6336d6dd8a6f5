"""Column types that keep money exact and time in UTC on every database.

SQLite has no decimal type, so money is stored as canonical decimal text there and
summed with an exact Python aggregate (`decimal_sum`, registered by `store.engine`);
PostgreSQL stores it as NUMERIC. Timestamps are naive UTC in the database and aware
UTC in Python.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

from store.money import canonical, money_str  # noqa: F401  (re-exported)

SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class Money(sa.types.TypeDecorator[Decimal]):
    """Exact decimal: NUMERIC on PostgreSQL, canonical text on SQLite."""

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        if dialect.name == "sqlite":
            return format(dec, "f")
        return dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class JSONText(sa.types.TypeDecorator[Any]):
    """JSON stored as canonical text (sorted keys) so equal values compare equal."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class money_sum(GenericFunction[Decimal]):
    """SUM over a Money column that stays exact on SQLite too."""

    type = Money()
    inherit_cache = True
    name = "money_sum"


@compiles(money_sum, "sqlite")
def _money_sum_sqlite(element: money_sum, compiler: Any, **kw: Any) -> str:
    return f"decimal_sum({compiler.process(element.clauses, **kw)})"


@compiles(money_sum)
def _money_sum_default(element: money_sum, compiler: Any, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


def utcnow() -> datetime:
    return datetime.now(UTC)
