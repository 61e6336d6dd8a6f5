"""What every command gets: the store, output mode, and the console."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass
class AppContext:
    db_url: str | None = None
    json_output: bool = False
    debug: bool = False
    config_path: Path | None = None
    out: Console = field(default_factory=lambda: Console(highlight=False))
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    _engine: Engine | None = None
    emitted: bool = False  # a JSON result is on stdout: errors then go to stderr only

    @property
    def url(self) -> str:
        from store.engine import resolve_url

        return resolve_url(self.db_url)

    def engine(self, *, require_schema: bool = True) -> Engine:
        from store.engine import make_engine
        from store.migrate import require_current

        if self._engine is None:
            self._engine = make_engine(self.db_url)
        if require_schema:
            require_current(self._engine)
        return self._engine

    def emit_json(self, payload: Any) -> None:
        sys.stdout.write(json.dumps(payload, indent=2, default=_default) + "\n")
        self.emitted = True

    @property
    def show_progress(self) -> bool:
        return not self.json_output and self.err.is_terminal


pass_app = click.make_pass_decorator(AppContext)
