"""When the next run fires: a cron expression (croniter, UTC) or a fixed interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter  # type: ignore[import-untyped]


def parse(expression: str) -> str:
    """The expression if croniter takes it; a ValueError that says how otherwise."""
    if not croniter.is_valid(expression):
        raise ValueError(
            f"{expression!r} is not a cron expression: five fields (minute hour day month "
            'weekday, e.g. "0 2 * * *"), or six with seconds last'
        )
    return expression


@dataclass(frozen=True)
class Schedule:
    """`cron`, or every `every_s` seconds when set (for tests and quick checks)."""

    cron: str
    every_s: float | None = None

    def next_after(self, now: datetime) -> datetime:
        if self.every_s is not None:
            return now + timedelta(seconds=self.every_s)
        nxt: datetime = croniter(self.cron, now).get_next(datetime)
        return nxt

    def describe(self) -> str:
        return f"every {self.every_s:g} s" if self.every_s is not None else f"cron {self.cron!r}"
