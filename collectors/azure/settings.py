"""`[[sources]] type = "azure"`: one Cost Management scope (a subscription, resource
group, management group or billing account), plus the subscriptions whose VMs, scale
sets and storage accounts are read (inventory is per subscription, spend per scope).

Credentials never go here: azure-identity's DefaultAzureCredential finds them
(environment variables, workload or managed identity, Azure CLI / azd / PowerShell login).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SUBSCRIPTION_SCOPE = re.compile(r"^/subscriptions/([^/]+)(?:/resourceGroups/([^/]+))?$", re.I)


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
    # Subscriptions whose inventory is read. Empty: the scope's own subscription when the
    # scope is "/subscriptions/<id>[/resourceGroups/<rg>]"; a management group or billing
    # scope has none, so list them here or inventory, metrics and storage are skipped.
    subscriptions: list[str] = Field(default_factory=list)
    # Concurrent Azure Monitor calls (one per VM): a real endpoint answers in ~100 ms.
    metrics_workers: int = Field(default=4, ge=1, le=32)
    # Regions whose VM prices are read besides those where VMs run (placement candidates).
    regions: list[str] = Field(default_factory=list)
    # The public Retail Prices API (no auth); tests point it at a local fake.
    retail_prices_url: str = "https://prices.azure.com/api/retail/prices"
    # The cost column summed: "PreTaxCost" for older (legacy pay-as-you-go) scopes that
    # refuse "Cost" with HTTP 400.
    cost_column: Literal["Cost", "PreTaxCost"] = "Cost"
    spend: bool = True  # Cost Management query.usage -> cost records
    inventory: bool = True  # VMs and scale sets -> workloads
    metrics: bool = True  # Azure Monitor "Percentage CPU" -> usage samples
    storage: bool = True  # storage accounts (BlobCapacity by tier, lifecycle) -> groups
    prices: bool = True  # Retail Prices API -> price offers (on demand, spot)

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

    @field_validator("subscriptions")
    @classmethod
    def _bare_ids(cls, value: list[str]) -> list[str]:
        out = [v.strip().removeprefix("/subscriptions/").strip("/") for v in value]
        if any(not v or "/" in v for v in out):
            raise ValueError('subscriptions are ids ("<id>" or "/subscriptions/<id>")')
        return out

    @property
    def inventory_subscriptions(self) -> list[str]:
        """Subscriptions whose inventory is read (see `subscriptions`)."""
        if self.subscriptions:
            return list(self.subscriptions)
        found = SUBSCRIPTION_SCOPE.match(self.scope)
        return [found.group(1)] if found else []

    @property
    def scope_subscription(self) -> str | None:
        """The subscription of a "/subscriptions/<id>[/resourceGroups/<rg>]" scope."""
        found = SUBSCRIPTION_SCOPE.match(self.scope)
        return found.group(1) if found else None

    @property
    def resource_group(self) -> str | None:
        """The resource group of a "/subscriptions/<id>/resourceGroups/<rg>" scope."""
        found = SUBSCRIPTION_SCOPE.match(self.scope)
        return found.group(2) if found and not self.subscriptions else None

    @property
    def source_key(self) -> str:
        """The source's key in the store (cost records, source state): its name."""
        return self.name
