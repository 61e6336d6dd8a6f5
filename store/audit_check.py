"""The walk behind `store.audit.verify`: the first event where the hash chain breaks.

Pure: it reads events in id order and asks `owner(hash)` which event (if any) has a
given hash, so the same walk checks the store and an exported file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store.audit import Event

GENESIS = "0" * 64
Owner = Callable[[str], int | None]


@dataclass(frozen=True)
class Break:
    """The first event at which the chain does not hold."""

    kind: str  # edited | deleted | reordered | restarted
    event_id: int
    previous_id: int | None  # the event before it in id order
    message: str

    @property
    def fix(self) -> str:
        return (
            f"compare event {self.event_id} (and the events just before it) with your last "
            "`optimizer audit export` or a backup of the store, find out who changed the "
            "store outside optimizer, and restore it from a backup taken before the change; "
            "do not re-hash the log, that would hide the change"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "event_id": self.event_id,
            "previous_id": self.previous_id,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Report:
    events: int  # events checked (up to and including a broken one)
    head_id: int | None  # the last event that verified
    head_hash: str  # its hash (GENESIS for an empty log)
    broken: Break | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "broken": None if self.broken is None else self.broken.as_dict(),
        }


def _link_break(event: Event, previous_id: int | None, owner: Owner) -> Break:
    """Why `event.prev_hash` is not the hash of the event before it."""
    eid = event.id
    if event.prev_hash == GENESIS:
        return Break(
            "restarted",
            eid,
            previous_id,
            f"event {eid} starts a new chain after event {previous_id}: the log was "
            "restarted or written by something that did not take the chain's lock",
        )
    found = owner(event.prev_hash)
    if found is None:
        where = "before it" if previous_id is None else f"between event {previous_id} and it"
        missing = ""
        if previous_id is not None and eid - previous_id > 1:
            missing = f" (ids {previous_id + 1}–{eid - 1} are missing)"
        rewritten = "" if previous_id is None else f", or event {previous_id} was re-hashed"
        return Break(
            "deleted",
            eid,
            previous_id,
            f"event {eid} follows an event that is no longer in the log: events {where} "
            f"were deleted{missing}{rewritten}",
        )
    before = "the first event" if previous_id is None else f"after event {previous_id}"
    return Break(
        "reordered",
        eid,
        previous_id,
        f"event {eid} follows event {found} in the chain but comes {before} in id "
        "order: events were reordered (or two writers forked the chain)",
    )


def check(events: Iterable[Event], owner: Owner) -> Report:
    """Recompute every hash and link, in id order; stop at the first break."""
    prev_hash, prev_id, count = GENESIS, None, 0
    for event in events:
        count += 1
        if event.recomputed() != event.hash:
            return Report(
                count,
                prev_id,
                prev_hash,
                Break(
                    "edited",
                    event.id,
                    prev_id,
                    f"event {event.id} ({event.action} by {event.actor}) does not match its "
                    "hash: it was edited after it was written",
                ),
            )
        if event.prev_hash != prev_hash:
            return Report(count, prev_id, prev_hash, _link_break(event, prev_id, owner))
        prev_hash, prev_id = event.hash, event.id
    return Report(count, prev_id, prev_hash)
