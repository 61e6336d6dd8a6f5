"""A backtest's choice is reused for `reselect_days`, then re-run; --reselect forces it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy.engine import Engine

from forecasts.job import PriorChoice, forecast_series
from forecasts.load import load_specs
from forecasts.runner import forecast_store
from forecasts.save import attach_priors, latest
from tests.test_forecast_store import END, FAST, ONE, hourly


def test_a_recent_choice_is_reused_without_a_backtest(engine: Engine) -> None:
    hourly(engine, "wl:a", "cpu_cores", 28)
    first = forecast_store(engine, FAST, ONE)
    assert first.results[0].status == "ok" and "backtest_why" in first.results[0].metrics
    with engine.connect() as conn:
        stored = latest(conn)[("wl:a", "cpu_cores")]
        assert "chosen_at" in stored.metrics
        specs, _ = load_specs(conn)
        with_prior = attach_priors(conn, specs, FAST)
    prior = with_prior[0].prior
    assert isinstance(prior, PriorChoice) and prior.model == stored.model
    again = forecast_series(with_prior[0], FAST)
    assert "(backtest of " in again.reason and "re-run every 7 days" in again.reason
    assert again.model == stored.model
    assert again.metrics["candidate"] == stored.metrics["candidate"]  # carried, not re-measured
    assert again.metrics["chosen_at"] == stored.metrics["chosen_at"]


def test_an_old_choice_or_reselect_days_zero_backtests_again(engine: Engine) -> None:
    hourly(engine, "wl:a", "cpu_cores", 28)
    forecast_store(engine, FAST, ONE)
    with engine.connect() as conn:
        specs, _ = load_specs(conn)
        later = attach_priors(conn, specs, FAST, now=END + timedelta(days=30))
        forced = attach_priors(conn, specs, type(FAST)(**{**FAST.__dict__, "reselect_days": 0}))
    assert later[0].prior is None and forced[0].prior is None
    fresh = forecast_series(later[0], FAST)
    assert "(backtest of" not in fresh.reason and fresh.metrics["origins"] >= 1


def test_a_fallback_is_never_reused_as_a_choice(engine: Engine) -> None:
    hourly(engine, "wl:short", "cpu_cores", 10)
    forecast_store(engine, FAST, ONE)
    with engine.connect() as conn:
        specs, _ = load_specs(conn)
        assert attach_priors(conn, specs, FAST)[0].prior is None
    out = forecast_series(specs[0], FAST)
    assert out.status == "fallback" and np.isfinite(out.p50).all()
