"""The error hierarchy shared by every layer.

It lives in `store` (the lowest layer) so that collectors, forecasts and placement can
raise it without importing the CLI package. Each error carries *what*, *where* and a
"To fix:" hint, and maps to a process exit code (design.md §9).
"""

from __future__ import annotations


class OptimizerError(Exception):
    """Base class: a message, an optional location, and how to fix it."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.fix = fix

    def render(self) -> str:
        lines = [f"{self.kind}: {self.message}"]
        if self.where:
            lines.append(f"  where: {self.where}")
        if self.fix:
            lines.append(f"  To fix: {self.fix}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "where": self.where,
            "fix": self.fix,
            "exit_code": self.exit_code,
        }


class ConfigError(OptimizerError):
    exit_code = 2
    kind = "config error"


class PolicyError(OptimizerError):
    exit_code = 2
    kind = "policy error"


class StoreError(OptimizerError):
    """The store is missing, unreachable or at the wrong schema version."""

    exit_code = 2
    kind = "store error"


class AuditLogBroken(StoreError):
    """`optimizer audit verify` found an edited, deleted or reordered audit event."""

    kind = "audit log broken"


class CollectorError(OptimizerError):
    exit_code = 3
    kind = "collect error"


class InputFileError(CollectorError):
    """A file we were asked to read is malformed; nothing from it was written."""

    kind = "input error"


class ForecastError(OptimizerError):
    exit_code = 3
    kind = "forecast error"


class InfeasiblePlacement(OptimizerError):
    exit_code = 4
    kind = "infeasible"


class SolverTimeout(OptimizerError):
    exit_code = 4
    kind = "solver timeout"


class ApplyError(OptimizerError):
    exit_code = 5
    kind = "apply error"


class ApplyLimitExceeded(ApplyError):
    kind = "apply limit exceeded"


class StageNotBuilt(OptimizerError):
    """A pipeline stage whose implementation has not landed yet: never fake its output."""

    exit_code = 69  # EX_UNAVAILABLE (sysexits.h)
    kind = "not built yet"
