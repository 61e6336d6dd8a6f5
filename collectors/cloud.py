"""What every cloud collector offers, so `sources test`, `collect <cloud>` and the nightly
run treat AWS, Azure and GCP alike (issue #5).

A collector is built from its `[[sources]]` entry, never from credentials: each SDK finds
its own (profiles, environment, managed identity, application default credentials), and
nothing here stores, prints or logs them.

- `check()` makes the cheapest read call that proves the source works and maps what goes
  wrong to one status with a hint: `ok`, `invalid_config`, `auth_failed`,
  `permission_denied` (naming the missing permission when the cloud says it),
  `throttled`, `no_data`, `unreachable`, `error`.
- `collect(engine, today)` reads from the source's watermark minus `restate_days`
  (billing data is restated for days) to yesterday, replaces that window in the store in
  one transaction per kind of data, and returns a `CollectSummary`: rows by kind, API
  calls by operation (Cost Explorer calls cost money, so they are counted), quarantined
  rows by reason. It raises nothing for a cloud-side failure: the summary's status says
  what happened, so one failing source never stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy.engine import Engine

STATUSES = (
    "ok",
    "invalid_config",
    "auth_failed",
    "permission_denied",
    "throttled",
    "no_data",
    "unreachable",
    "error",
)


@dataclass(frozen=True)
class Check:
    status: str
    detail: str
    hint: str = ""
    missing_permission: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown source status {self.status!r}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "hint": self.hint,
            "missing_permission": self.missing_permission,
        }


class SourceError(Exception):
    """A cloud call that failed after the SDK's retries, mapped to a source status; each
    adapter raises its own subclass."""

    def __init__(
        self, status: str, detail: str, hint: str = "", missing_permission: str | None = None
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.hint = hint
        self.missing_permission = missing_permission

    def as_check(self) -> Check:
        return Check(self.status, self.detail, self.hint, self.missing_permission)

    def outcome(self) -> tuple[str, str, str]:
        """(status, detail, hint), as `collectors.cloud_store.finish` records a failure."""
        return self.status, self.detail, self.hint


@dataclass
class CollectSummary:
    source: str
    status: str  # one of STATUSES
    detail: str = ""
    hint: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # cost_records, workloads, …
    api_calls: dict[str, int] = field(default_factory=dict)  # operation -> calls
    quarantined: dict[str, int] = field(default_factory=dict)  # reason -> rows
    window: tuple[date, date] | None = None  # [start, end) of the billing days read

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "detail": self.detail,
            "hint": self.hint,
            "rows": dict(self.rows),
            "api_calls": dict(self.api_calls),
            "quarantined": dict(self.quarantined),
            "window": [d.isoformat() for d in self.window] if self.window else None,
        }


@dataclass
class Quarantine:
    """Malformed items a mapping left out, counted by reason (issue #5: quarantined with
    a reason and counted, the rest kept)."""

    quarantined: dict[str, int] = field(default_factory=dict)  # reason -> items

    def quarantine(self, reason: str, n: int = 1) -> None:
        self.quarantined[reason] = self.quarantined.get(reason, 0) + n


@dataclass
class CostRows(Quarantine):
    """FOCUS rows a mapping made from a cloud's spend, each with its natural key."""

    rows: list[dict[str, str | None]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    _taken: set[str] = field(default_factory=set, repr=False)

    def add(self, rows: list[dict[str, str | None]], keys: list[str], duplicate: str) -> bool:
        """Keep one group's rows, unless one of its keys is already kept: then the group
        is quarantined as `duplicate` (the cloud answered the same group twice)."""
        if any(k in self._taken for k in keys):
            self.quarantine(duplicate)
            return False
        self._taken.update(keys)
        self.rows.extend(rows)
        self.keys.extend(keys)
        return True


class CloudCollector(Protocol):
    @property
    def name(self) -> str: ...

    def check(self) -> Check: ...

    def collect(self, engine: Engine, today: date | None = None) -> CollectSummary: ...
