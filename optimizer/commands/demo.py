"""`optimizer demo`: placeholder until the estate generator lands below."""

from __future__ import annotations

COMMANDS: list[object] = []
