"""One series' history, forecast and band as a PNG (`optimizer forecast plot`).

matplotlib comes with Prophet; the Agg backend draws without a display (cron, CI)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from forecasts.job import SeriesSpec
from forecasts.save import StoredForecast


def plot_forecast(
    out: Path,
    stored: StoredForecast,
    history: SeriesSpec | None,
    points: list[tuple[datetime, float, float, float]],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig: Any
    ax: Any
    fig, ax = plt.subplots(figsize=(11, 4), dpi=110)
    if history is not None:
        stamps = [history.start + i * history.step for i in range(len(history.values))]
        ax.plot(stamps, history.values, color="#333333", lw=0.8, label="history")
    if points:
        ts = [p[0] for p in points]
        level = float(stored.metrics.get("level", 0.8))
        ax.fill_between(ts, [p[1] for p in points], [p[3] for p in points], color="#4c72b0",
                        alpha=0.25, label=f"{level:.0%} band")  # fmt: skip
        ax.plot(ts, [p[2] for p in points], color="#4c72b0", lw=1.2, label="p50")
    for a in stored.metrics.get("anomalies", []):
        ax.scatter([datetime.fromisoformat(a["ts"])], [a["actual"]], color="#c44e52", zorder=3)
    ax.set_title(
        f"{stored.series_id} / {stored.metric}: {stored.model} ({stored.reason})", fontsize=9
    )
    ax.set_ylabel(stored.metric)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
