"""`[daemon]` in optimizer.toml: when the daemon runs, and where its metrics go."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from optimizer.stages import STAGES


class DaemonSettings(BaseModel):
    """The schedule is a cron expression in UTC (5 fields, or 6 with seconds as the
    last one). `metrics_port = 0` turns the HTTP endpoint off; `metrics_textfile` is a
    path for node_exporter's textfile collector, rewritten atomically after each run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: str = "0 2 * * *"
    stages: list[str] = Field(default_factory=lambda: list(STAGES))
    skip_unbuilt: bool = True  # record stages not built yet as such, instead of refusing
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    metrics_bind: str = "0.0.0.0"
    metrics_textfile: str | None = None
    log_format: Literal["json", "text"] = "json"

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from optimizer.daemon.schedule import parse

        parse(value)
        return value

    @field_validator("stages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in STAGES]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
        return value
