"""Policies: the rules a placement plan must keep, read from a versioned YAML file.

`load_policies(path)` returns a validated, immutable `PolicyFile` or raises
`PolicyFileError` (a `store.errors.PolicyError`, exit code 2) naming file, line, policy
and key, with a "To fix:" hint. `json_schema()` describes the format. This package
imports only `store` (for its errors) and never opens a database session: evaluation
against the store's facts is done by callers that pass those facts in.
"""

from policies.base import PolicyBase, SelectedPolicy
from policies.change_rules import (
    ApprovalPolicy,
    AutoApproval,
    ChangeBudgetPolicy,
    Commitment,
    CommitmentsPolicy,
    TieringPolicy,
)
from policies.diagnostics import Problem
from policies.loader import PolicyFileError, load_policies, parse_policies, policies_sha256
from policies.models import POLICY_TYPES, Policy, PolicyFile
from policies.placement_rules import (
    INTERRUPTION_BUCKETS,
    CapacityPolicy,
    Exclusion,
    LatencyPolicy,
    Quota,
    ResidencyAllow,
    ResidencyPolicy,
    SpotPolicy,
    SpreadPolicy,
)
from policies.schema import json_schema
from policies.selectors import Selector

__all__ = [
    "INTERRUPTION_BUCKETS",
    "POLICY_TYPES",
    "ApprovalPolicy",
    "AutoApproval",
    "CapacityPolicy",
    "ChangeBudgetPolicy",
    "Commitment",
    "CommitmentsPolicy",
    "Exclusion",
    "LatencyPolicy",
    "Policy",
    "PolicyBase",
    "PolicyFile",
    "PolicyFileError",
    "Problem",
    "Quota",
    "ResidencyAllow",
    "ResidencyPolicy",
    "SelectedPolicy",
    "Selector",
    "SpotPolicy",
    "SpreadPolicy",
    "TieringPolicy",
    "json_schema",
    "load_policies",
    "parse_policies",
    "policies_sha256",
]
