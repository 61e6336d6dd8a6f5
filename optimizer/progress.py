"""Progress bars on stderr for long work; silent when not a terminal or with --json."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from optimizer.context import AppContext

Advance = Callable[[int], None]


@contextmanager
def progress_bar(app: AppContext, label: str, total: int | None = None) -> Iterator[Advance]:
    if not app.show_progress:
        yield lambda _n: None
        return
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=app.err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
