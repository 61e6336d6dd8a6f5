"""`optimizer.toml`: where the store is and which sources feed it.

Validated by pydantic; an error names the file, the entry and the field. Credentials
never go here: each cloud SDK finds its own (profiles, environment, managed identity).
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from collectors.aws.settings import AwsSource
from collectors.azure.settings import AzureSource
from collectors.gcp.settings import GcpSource
from forecasts.engine import EngineChoice
from forecasts.job import Settings as ForecastSettings
from optimizer.apply.settings import ApplySettings
from optimizer.daemon.settings import DaemonSettings
from optimizer.report.settings import ReportSettings
from placement.sizing import SizingSettings
from store.errors import ConfigError

ENV_CONFIG = "OPTIMIZER_CONFIG"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FocusSource(_Strict):
    """FOCUS export files on disk; `paths` are globs relative to the config file."""

    type: Literal["focus"]
    name: str
    paths: list[str] = Field(min_length=1)


Source = Annotated[FocusSource | AwsSource | AzureSource | GcpSource, Field(discriminator="type")]


class StoreSettings(_Strict):
    url: str | None = None


class PolicySettings(_Strict):
    """The default policy file for `plan` and `policy validate|explain`."""

    path: str | None = None


class RunSettings(_Strict):
    """`[run]`: the nightly run (docs/operations.md). The `run` lock's ttl is renewed
    every `heartbeat_seconds`; a run whose process died elsewhere frees it at expiry."""

    stale_after_hours: float = Field(default=48.0, gt=0)
    lock_ttl_seconds: float = Field(default=120.0, ge=10)
    heartbeat_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _beats_within_ttl(self) -> RunSettings:
        if self.heartbeat_seconds * 2 > self.lock_ttl_seconds:
            raise ValueError("heartbeat_seconds must be at most half of lock_ttl_seconds")
        return self


class SizingConfig(_Strict):
    """`[sizing]`: how `optimizer plan` sizes workloads: from the latest fresh forecast
    (`use_forecasts`), else from recent utilization. See `placement.sizing`."""

    enabled: bool = True
    window_days: int = Field(default=14, ge=1, le=366)
    target_cpu: float = Field(default=0.7, gt=0, le=1)
    target_memory: float = Field(default=0.8, gt=0, le=1)
    use_forecasts: bool = True

    def settings(self) -> SizingSettings:
        return SizingSettings(
            window_days=self.window_days,
            target_cpu=self.target_cpu,
            target_memory=self.target_memory,
            enabled=self.enabled,
            use_forecasts=self.use_forecasts,
        )


class ForecastConfig(_Strict):
    """`[forecast]`: how `optimizer forecast` and the nightly run forecast every series.
    See docs/forecasting.md for what each setting costs and buys."""

    horizon_days: int = Field(default=30, ge=1, le=366)
    history_days: int = Field(default=90, ge=14, le=3660)
    engine: Literal["local", "dask"] = "local"
    workers: int = Field(default=0, ge=0)  # 0 = every core
    scheduler: str | None = None  # tcp://host:8786 for a Dask cluster
    holidays: str | None = None  # a country code known to the `holidays` package, e.g. "US"
    origins: int = Field(default=2, ge=1, le=12)
    fit_window_days: int | None = Field(default=28, ge=14)
    uncertainty_samples: int = Field(default=200, ge=0, le=5000)
    series: str | None = None  # a glob; none = every series
    reselect_days: int = Field(default=7, ge=0, le=90)  # 0 = backtest every run

    @model_validator(mode="after")
    def _scheduler_needs_dask(self) -> ForecastConfig:
        if self.scheduler and self.engine != "dask":
            raise ValueError('scheduler is set but engine is "local": set engine = "dask"')
        return self

    def settings(self) -> ForecastSettings:
        return ForecastSettings(
            horizon=timedelta(days=self.horizon_days),
            origins=self.origins,
            fit_window_days=self.fit_window_days,
            uncertainty_samples=self.uncertainty_samples,
            holidays_country=self.holidays or None,
            reselect_days=self.reselect_days,
        )

    def engine_choice(self) -> EngineChoice:
        return EngineChoice(self.engine, self.workers or None, self.scheduler or None)


class Config(_Strict):
    store: StoreSettings = StoreSettings()
    run: RunSettings = RunSettings()
    policies: PolicySettings = PolicySettings()
    sizing: SizingConfig = SizingConfig()
    forecast: ForecastConfig = ForecastConfig()
    daemon: DaemonSettings = DaemonSettings()
    apply: ApplySettings = ApplySettings()
    report: ReportSettings = ReportSettings()
    sources: list[Source] = Field(default_factory=list)
    base_dir: Path = Path(".")

    def policies_path(self) -> Path | None:
        """The configured policy file, relative to the config file's folder."""
        if self.policies.path is None:
            return None
        p = Path(self.policies.path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def focus_files(self, source: FocusSource) -> list[Path]:
        files: list[Path] = []
        for pattern in source.paths:
            p = Path(pattern).expanduser()
            if p.is_absolute():
                matches = sorted(Path(p.anchor).glob(str(p.relative_to(p.anchor))))
            else:
                matches = sorted(self.base_dir.glob(pattern))
            files.extend(m for m in matches if m.is_file())
        return files


def _field_path(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int) and i > 0 and loc[i - 1] == "sources":
            name = (
                raw.get("sources", [{}])[item].get("name")
                if isinstance(raw.get("sources"), list) and item < len(raw["sources"])
                else None
            )
            parts[-1] = f"[[sources]] #{item + 1}" + (f" ({name!r})" if name else "")
        elif item in ("focus", "aws", "azure", "gcp") and parts and parts[-1].startswith("[["):
            continue
        else:
            parts.append(str(item))
    return ".".join(parts)


def load_config(path: Path | None) -> Config:
    """Read and validate the config; no file at all means defaults (no sources)."""
    if path is None:
        return Config()
    if not path.is_file():
        raise ConfigError(
            f"config file not found: {path}",
            fix=f"create it (see docs/configuration.md) or unset --config / {ENV_CONFIG}",
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path.name} is not valid TOML: {exc}",
            where=str(path),
            fix="fix the syntax at the line and column given",
        ) from exc
    try:
        return Config.model_validate({**raw, "base_dir": path.parent.resolve()})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _field_path(tuple(first["loc"]), raw)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(
            f"{path.name}: {where}: {first['msg']}{more}",
            where=f"{path}: {where}",
            fix="see docs/configuration.md for the fields each section takes",
        ) from exc
