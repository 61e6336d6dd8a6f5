"""Which collector serves a `[[sources]]` entry, and whether that source works now.

Cloud collectors are imported lazily, by type, so a machine without one cloud's SDK can
still run the others. A type whose collector is not built yet says so (issue #5).
"""

from __future__ import annotations

import importlib
from typing import Any

from collectors.cloud import Check, CloudCollector
from optimizer.config import Config, FocusSource

COLLECTORS = {
    "aws": ("collectors.aws.collector", "AwsCollector"),
    "azure": ("collectors.azure.collector", "AzureCollector"),
    "gcp": ("collectors.gcp.collector", "GcpCollector"),
}
SDK_EXTRA = {"aws": "aws", "azure": "azure", "gcp": "gcp"}


class NotBuilt(Exception):
    """The source's type has no collector yet."""


def collector_for(source: Any) -> CloudCollector:
    """The collector of a cloud source; NotBuilt when its type has none yet."""
    where = COLLECTORS.get(source.type)
    if where is None:
        raise NotBuilt(f"{source.type} collector arrives with issue #5")
    try:
        module = importlib.import_module(where[0])
    except ImportError as exc:
        raise NotBuilt(
            f"the {source.type} collector needs its SDK ({exc.name}): "
            f"pip install 'optimizer[{SDK_EXTRA[source.type]}]'"
        ) from exc
    collector: CloudCollector = getattr(module, where[1])(source)
    return collector


def check_focus(config: Config, source: FocusSource) -> Check:
    files = config.focus_files(source)
    if not files:
        return Check(
            "no_data",
            f"no file matches {source.paths}",
            hint="check the globs (relative to the config file's folder)",
        )
    unreadable = [f.name for f in files if not f.is_file()]
    if unreadable:
        return Check("error", f"cannot read {', '.join(unreadable)}", hint="check permissions")
    return Check("ok", f"{len(files)} file(s) match")


def check_source(config: Config, source: Any) -> Check:
    """One source's status now; never raises."""
    if isinstance(source, FocusSource):
        return check_focus(config, source)
    try:
        return collector_for(source).check()
    except NotBuilt as exc:
        return Check("invalid_config", str(exc), hint="use FOCUS exports meanwhile")
    except Exception as exc:  # a collector bug must not hide the other sources
        return Check("error", f"{type(exc).__name__}: {exc}", hint="run with --debug")
