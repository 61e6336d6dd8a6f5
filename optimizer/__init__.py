"""optimizer: cross-cloud cost optimizer and workload placement daemon."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("optimizer")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"
