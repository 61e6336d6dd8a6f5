"""Durations and byte sizes as people write them ("100ms", "12h", "500GiB").

A bare number is refused for a duration: "5" could be seconds, minutes or hours, and a
retrieval SLO that is off by a factor of 60 silently admits archive tiers.

Durations: one or more `<number><unit>` parts, units `ms`, `s`, `m` (minutes), `h`,
`d`; "1h30m" is 90 minutes, "1.5h" too. The result is whole milliseconds.

Byte sizes: a whole number of bytes, or `<number><unit>` with decimal units (`KB`,
`MB`, `GB`, `TB`, `PB`: powers of 1000, as the clouds bill storage) or binary units
(`KiB`, `MiB`, `GiB`, `TiB`, `PiB`: powers of 1024); units are case-insensitive.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

DURATION_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"

BYTE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
}
_BYTES = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+)?$", re.IGNORECASE)
BYTES_PATTERN = r"^\d+(\.\d+)?\s*([KkMmGgTtPp][Ii]?[Bb]|[Bb])?$"


def parse_duration_ms(text: str) -> int:
    """Milliseconds in "100ms" (100), "5m" (300000), "1h30m" (5400000); else ValueError."""
    compact = text.strip().lower().replace(" ", "")
    pos, total = 0, Decimal(0)
    for match in _DURATION_PART.finditer(compact):
        if match.start() != pos:
            break
        total += Decimal(match.group(1)) * DURATION_UNITS_MS[match.group(2)]
        pos = match.end()
    if not compact or pos != len(compact):
        raise ValueError(f"'{text}' is not a duration")
    if total != total.to_integral_value():
        raise ValueError(f"'{text}' is not a whole number of milliseconds")
    return int(total)


def format_duration(ms: int) -> str:
    """The shortest exact spelling: 300000 → "5m", 5400000 → "90m", 1500 → "1500ms"."""
    for unit in ("d", "h", "m", "s"):
        size = DURATION_UNITS_MS[unit]
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def parse_bytes(text: str) -> int:
    """Bytes in "500GiB" (536870912000), "2TB" (2000000000000); else ValueError."""
    match = _BYTES.match(text.strip())
    unit = (match.group(2) or "b").lower() if match else ""
    if not match or unit not in BYTE_UNITS:
        raise ValueError(f"'{text}' is not a size")
    try:
        value = Decimal(match.group(1)) * BYTE_UNITS[unit]
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only digits
        raise ValueError(f"'{text}' is not a size") from exc
    if value != value.to_integral_value():
        raise ValueError(f"'{text}' is not a whole number of bytes")
    return int(value)
