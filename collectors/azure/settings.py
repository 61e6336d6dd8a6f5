"""`[[sources]] type = "azure"`: one Cost Management scope (a subscription, resource
group, management group or billing account).

Credentials never go here: azure-identity's DefaultAzureCredential finds them
(environment variables, workload or managed identity, Azure CLI / azd / PowerShell login).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AzureSource(BaseModel):
    """An Azure Cost Management scope read through the SDK; see docs/collectors-azure.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["azure"]
    name: str = Field(min_length=1)
    # e.g. "/subscriptions/<id>" or "/providers/Microsoft.Billing/billingAccounts/<id>"
    scope: str
    # Send every call here instead of https://management.azure.com (tests, local fakes).
    endpoint_url: str | None = None
    # A CA bundle to verify endpoint_url's certificate with (tests: a trustme CA).
    ca_bundle: str | None = None
    # Each run re-reads this many days before the watermark: Azure restates recent billing.
    restate_days: int = Field(default=3, ge=0, le=60)
    # Days of billing read on the first run (no watermark yet).
    first_days: int = Field(default=30, ge=1, le=365)
    # Attempts per call, the first included: azure-core's RetryPolicy retries 429 (after
    # its Retry-After), 5xx and connection errors.
    max_attempts: int = Field(default=4, ge=1, le=20)

    @field_validator("scope")
    @classmethod
    def _scope_is_a_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith("/") or len(value) < 2:
            raise ValueError(
                'scope must be a resource path starting with "/", e.g. "/subscriptions/<id>" '
                'or "/providers/Microsoft.Billing/billingAccounts/<id>"'
            )
        return value

    @property
    def source_key(self) -> str:
        """The source's key in the store (cost records, source state): its name."""
        return self.name
