"""The JSON Schema of a policy file, for `optimizer policy schema` and for editors.

Generated from the pydantic models (by alias, so keys read as in YAML), so it cannot
drift from what the loader accepts. Editors such as VS Code's YAML extension use it for
completion and inline errors via a `# yaml-language-server: $schema=...` comment.
Some checks exist only in the loader (unique names, "exactly one of", provider and
commitment-kind pairs); the schema states the shape, the loader has the last word.
"""

from __future__ import annotations

from typing import Any

from policies.models import PolicyFile

SCHEMA_ID = "urn:optimizer:policy-file:1"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    """The schema as a JSON-ready dict (`json.dumps(json_schema(), indent=2)`)."""
    body = PolicyFile.model_json_schema(by_alias=True, mode="validation")
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "optimizer policy file, version 1",
        "description": (
            "Placement and change policies for the cross-cloud cost optimizer: residency, "
            "latency, spot, capacity, spread, change-budget, tiering, commitments, approval. "
            "See examples/policies/ for one commented file per policy type."
        ),
        **body,
    }
