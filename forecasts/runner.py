"""The forecast stage: load the series from the store, run them on an engine, save.

Loading and saving each take one short transaction; the fits in between hold no
connection, so a long run on a cluster never keeps the store locked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from forecasts.engine import EngineChoice, Progress, run_all
from forecasts.job import SeriesForecast, Settings
from forecasts.load import Problem, load_specs
from forecasts.save import attach_priors, save

Bar = Callable[[str, int], AbstractContextManager[Progress]]


@dataclass
class Outcome:
    results: list[SeriesForecast]
    problems: list[Problem]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    def models(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            if r.model:
                out[r.model] = out.get(r.model, 0) + 1
        return out

    def anomalies(self) -> int:
        return sum(len(r.anomalies) for r in self.results)


def forecast_store(
    engine: Engine,
    settings: Settings,
    choice: EngineChoice | None = None,
    pattern: str | None = None,
    history_days: int | None = 90,
    run_id: int | None = None,
    bar: Bar | None = None,
    write: bool = True,
) -> Outcome:
    """Forecast every matching series and (unless `write` is False) store the results;
    `bar(label, total)` opens a progress bar whose callable advances it."""
    began = time.perf_counter()
    with engine.connect() as conn:
        specs, problems = load_specs(conn, pattern, history_days)
        specs = attach_priors(conn, specs, settings)
    bar = bar or (lambda _label, _total: nullcontext(lambda _n: None))
    with bar(f"forecasting {len(specs)} series", len(specs)) as advance:
        results = run_all(specs, settings, choice, advance)
    counts: dict[str, int] = {}
    if write:
        with engine.begin() as conn:
            counts = save(conn, results, problems, settings, run_id)
    else:
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        counts["failed"] = counts.get("failed", 0) + len(problems)
    return Outcome(results, problems, counts, time.perf_counter() - began)
