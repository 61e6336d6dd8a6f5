"""Errors and exit codes (design.md §9); defined in `store.errors`, re-exported here."""

from store.errors import (
    ApplyError,
    ApplyLimitExceeded,
    AuditLogBroken,
    CollectorError,
    ConfigError,
    ForecastError,
    InfeasiblePlacement,
    InputFileError,
    OptimizerError,
    PolicyError,
    SolverTimeout,
    StageNotBuilt,
    StoreError,
)

EXIT_CODES = {
    "ok": 0,
    "unexpected error": 1,
    "config, policy or store error": 2,
    "collect or forecast error (partial failure included)": 3,
    "infeasible placement or solver timeout": 4,
    "apply error or apply limit exceeded": 5,
    "stage not built yet": 69,
}

__all__ = [
    "EXIT_CODES",
    "ApplyError",
    "ApplyLimitExceeded",
    "AuditLogBroken",
    "CollectorError",
    "ConfigError",
    "ForecastError",
    "InfeasiblePlacement",
    "InputFileError",
    "OptimizerError",
    "PolicyError",
    "SolverTimeout",
    "StageNotBuilt",
    "StoreError",
]
