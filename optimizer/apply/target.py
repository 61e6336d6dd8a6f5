"""What the apply engine needs of a cloud, and which settings reach which cloud."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

from optimizer.apply.changes import Call, LiveState, TieringChange
from optimizer.apply.settings import ApplySettings
from store.errors import ConfigError


class TieringTarget(Protocol):
    """One cloud's storage API, through its real SDK (an `*_adapter.py` module)."""

    def read(self, change: TieringChange, max_objects: int) -> LiveState:
        """The live rules and, for one-off changes, the objects under the prefix that
        are older than `after_days` (at most `max_objects`, `truncated` past that)."""
        ...

    def execute(self, call: Call) -> None:
        """Make one call; SDK errors come back as ApplyError subclasses."""
        ...


class Mapping(Protocol):
    """The pure half, beside each adapter (see aws_s3_mapping.py)."""

    apply_calls: Callable[[TieringChange, LiveState], list[Call]]
    rollback_calls: Callable[[TieringChange, LiveState, LiveState], list[Call]]
    foreign_rules: Callable[[tuple[dict[str, Any], ...] | None], tuple[str, ...]]


def mapping_for(provider: str) -> ModuleType:
    if provider == "aws":
        from optimizer.apply import aws_s3_mapping

        return aws_s3_mapping
    if provider == "azure":
        from optimizer.apply import azure_blob_mapping

        return azure_blob_mapping
    if provider == "gcp":
        from optimizer.apply import gcs_mapping

        return gcs_mapping
    raise ConfigError(f"no apply support for provider {provider!r}", fix="aws, azure or gcp")


def target_for(provider: str, settings: ApplySettings) -> TieringTarget:
    """The adapter for a provider, built from `[apply.<provider>]`; a clear error when
    that section is missing (the SDK import happens only here, on first use)."""
    section = getattr(settings, provider, None)
    if section is None:
        raise ConfigError(
            f"no [apply.{provider}] section: optimizer does not know how to reach {provider}",
            where="optimizer.toml",
            fix=f"add [apply.{provider}] (see docs/apply.md), or reject these recommendations",
        )
    if provider == "aws":
        from optimizer.apply.aws_s3_adapter import S3Target

        return S3Target(section)
    if provider == "azure":
        from optimizer.apply.azure_blob_adapter import BlobTarget

        return BlobTarget(section)
    from optimizer.apply.gcs_adapter import GcsTarget

    return GcsTarget(section)
