"""`optimizer run`: placeholder until the pipeline module lands."""

from __future__ import annotations

COMMANDS: list[object] = []
