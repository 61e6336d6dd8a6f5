"""The append-only audit log: every event carries the hash of the one before it.

`append` writes an event inside the caller's transaction, so the event commits (or
rolls back) with the change it records. Its hash is the SHA-256 of a canonical JSON of
(prev_hash, ts, actor, action, subject, details): sorted keys, no spaces, Decimal as its
decimal text, datetimes as ISO 8601 UTC with microseconds. Appends are serialised so two
writers never fork the chain: PostgreSQL takes a transaction-scoped advisory lock,
SQLite takes its single write lock (a no-op UPDATE) before the last hash is read.

`verify` walks the events in id order, recomputes each hash and checks each prev_hash
against the hash of the event before it (the first names `GENESIS`, 64 zeros); it
reports the first broken event. What it cannot see: the newest events removed (nothing
outside the store anchors the head) or the whole tail rewritten with recomputed hashes;
keep the head hash of `verify` somewhere else to catch those (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.audit_check import GENESIS, Break, Report, check
from store.errors import StoreError
from store.models.operations import AuditEvent
from store.types import utcnow

TABLE: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]
LOCK_KEY = 0x6F70745F61756474  # "opt_audt": the advisory lock of the audit chain
PAGE = 1000


def _plain(value: Any) -> Any:
    """JSON for the values details may hold beyond JSON's own, always the same text."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"audit details cannot hold {type(value).__name__}: {value!r}")


def normal(value: Any) -> Any:
    """Details as they will read back: string keys, lists for tuples, and the floats JSON
    cannot hold (NaN, infinities) as text."""
    if isinstance(value, Mapping):
        return {str(k): normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normal(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def dumps(value: Any) -> str:
    """The canonical JSON text: sorted keys, no spaces, no NaN."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_plain,
    )


def iso(ts: datetime) -> str:
    """ISO 8601 in UTC with microseconds (a naive datetime is taken as UTC)."""
    aware = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def event_hash(
    prev_hash: str,
    ts: datetime,
    actor: str,
    action: str,
    subject: str | None,
    details: Mapping[str, Any] | None,
) -> str:
    payload = {
        "prev_hash": prev_hash,
        "ts": iso(ts),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
    }
    return hashlib.sha256(dumps(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Event:
    id: int
    ts: datetime
    actor: str
    action: str
    subject: str | None
    details: dict[str, Any] | None
    prev_hash: str
    hash: str

    def recomputed(self) -> str:
        return event_hash(
            self.prev_hash, self.ts, self.actor, self.action, self.subject, self.details
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": iso(self.ts),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """An event as `as_dict` (and so `export`) wrote it."""
        return cls(
            id=int(data["id"]),
            ts=datetime.fromisoformat(data["ts"]),
            actor=data["actor"],
            action=data["action"],
            subject=data["subject"],
            details=data["details"],
            prev_hash=data["prev_hash"],
            hash=data["hash"],
        )


def _serialise(conn: Connection) -> None:
    """Hold the chain's write lock until the caller's transaction ends."""
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    elif name == "sqlite":
        # A write statement takes SQLite's one write lock (and opens the transaction),
        # so the last hash read next cannot change before this transaction commits.
        conn.execute(sa.text("UPDATE audit_event SET id = id WHERE 0 = 1"))
    else:
        raise StoreError(
            f"the audit log cannot serialise appends on {name}",
            fix="use SQLite or PostgreSQL as the store",
        )


def append(
    conn: Connection,
    actor: str,
    action: str,
    subject: str | None,
    details: Mapping[str, Any] | None = None,
    *,
    ts: datetime | None = None,
) -> Event:
    """Write one event in the caller's transaction (commit is the caller's)."""
    if not actor or not action:
        raise ValueError("an audit event needs an actor and an action")
    stored = None if details is None else json.loads(dumps(normal(details)))
    _serialise(conn)
    last = conn.execute(sa.select(TABLE.c.hash).order_by(TABLE.c.id.desc()).limit(1))
    prev_hash = last.scalar_one_or_none() or GENESIS
    when = ts or utcnow()
    digest = event_hash(prev_hash, when, actor, action, subject, stored)
    inserted = conn.execute(
        sa.insert(TABLE).values(
            ts=when,
            actor=actor,
            action=action,
            subject=subject,
            details=stored,
            prev_hash=prev_hash,
            hash=digest,
        )
    ).inserted_primary_key
    assert inserted is not None
    return Event(int(inserted[0]), when, actor, action, subject, stored, prev_hash, digest)


def events(conn: Connection, page: int = PAGE) -> Iterator[Event]:
    """Every event in id order, a page at a time (no cursor is held between pages)."""
    after = None
    while True:
        query = sa.select(TABLE).order_by(TABLE.c.id).limit(page)
        if after is not None:
            query = query.where(TABLE.c.id > after)
        rows = conn.execute(query).mappings().all()
        for row in rows:
            yield Event(**dict(row))
        if len(rows) < page:
            return
        after = rows[-1]["id"]


def head(conn: Connection) -> Event | None:
    row = conn.execute(sa.select(TABLE).order_by(TABLE.c.id.desc()).limit(1)).mappings().first()
    return None if row is None else Event(**dict(row))


def export(conn: Connection, out: TextIO) -> tuple[int, str]:
    """Write every event as one JSON line, in id order, as the store holds it (a broken
    log too); returns how many and the last one's hash (`GENESIS` for none)."""
    count, last = 0, GENESIS
    for event in events(conn):
        out.write(dumps(event.as_dict()) + "\n")
        count, last = count + 1, event.hash
    return count, last


def read_export(lines: Iterable[str]) -> list[Event]:
    """The events of an `export` file (blank lines ignored)."""
    return [Event.from_dict(json.loads(line)) for line in lines if line.strip()]


def verify(conn: Connection) -> Report:
    """Walk the whole log in id order; the report names the first broken event."""

    def owner(digest: str) -> int | None:
        found = conn.execute(sa.select(TABLE.c.id).where(TABLE.c.hash == digest)).first()
        return None if found is None else int(found[0])

    return check(events(conn), owner)


def verify_events(items: Iterable[Event]) -> Report:
    """`verify` over events read back from an export."""
    listed = list(items)
    owners = {e.hash: e.id for e in listed}
    return check(listed, owners.get)


__all__ = [
    "GENESIS",
    "Break",
    "Event",
    "Report",
    "append",
    "check",
    "event_hash",
    "events",
    "export",
    "head",
    "read_export",
    "verify",
    "verify_events",
]
