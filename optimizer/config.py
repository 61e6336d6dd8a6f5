"""`optimizer.toml`: where the store is and which sources feed it.

Validated by pydantic; an error names the file, the entry and the field. Credentials
never go here: each cloud SDK finds its own (profiles, environment, managed identity).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class CloudSource(_Strict):
    """A cloud account read through its SDK (collectors arrive with issue #5)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["aws", "azure", "gcp"]
    name: str


Source = Annotated[FocusSource | CloudSource, Field(discriminator="type")]


class StoreSettings(_Strict):
    url: str | None = None


class PolicySettings(_Strict):
    """The default policy file for `plan` and `policy validate|explain`."""

    path: str | None = None


class RunSettings(_Strict):
    stale_after_hours: float = Field(default=48.0, gt=0)


class SizingConfig(_Strict):
    """`[sizing]`: how `optimizer plan` sizes workloads from recent utilization until
    forecasts exist (issue #4). See `placement.sizing` for the rules."""

    enabled: bool = True
    window_days: int = Field(default=14, ge=1, le=366)
    target_cpu: float = Field(default=0.7, gt=0, le=1)
    target_memory: float = Field(default=0.8, gt=0, le=1)

    def settings(self) -> SizingSettings:
        return SizingSettings(
            window_days=self.window_days,
            target_cpu=self.target_cpu,
            target_memory=self.target_memory,
            enabled=self.enabled,
        )


class Config(_Strict):
    store: StoreSettings = StoreSettings()
    run: RunSettings = RunSettings()
    policies: PolicySettings = PolicySettings()
    sizing: SizingConfig = SizingConfig()
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
