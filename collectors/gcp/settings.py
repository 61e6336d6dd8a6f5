"""`[[sources]] type = "gcp"`: one billing account and the projects it pays for.

Credentials never go here: google.auth.default() finds application default credentials
(GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, workload
identity, the metadata server). When `endpoints` point at local fakes the collector uses
anonymous credentials instead, so tests never need a Google identity.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SECRET_HINTS = ("secret", "password", "token", "access_key", "private_key", "credential")
ACCOUNT = re.compile(r"^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$")
_PROJECT = r"(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]"
PROJECT = re.compile(f"^{_PROJECT}$")
# project.dataset.table: the only user text that ever reaches SQL, so it is validated
# strictly here and then quoted with backticks (BigQuery has no table parameters).
TABLE = re.compile(f"^{_PROJECT}\\.[A-Za-z0-9_]{{1,1024}}\\.[A-Za-z0-9_]{{1,1024}}$")
REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")


class GcpEndpoints(BaseModel):
    """Per-API endpoint overrides (tests, local fakes, Private Service Connect). REST
    APIs take a URL (http://127.0.0.1:PORT); monitoring is gRPC and takes host:port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    catalog: str | None = None  # cloudbilling.googleapis.com
    bigquery: str | None = None  # bigquery.googleapis.com
    compute: str | None = None  # compute.googleapis.com
    monitoring: str | None = None  # monitoring.googleapis.com (gRPC, insecure channel)
    storage: str | None = None  # storage.googleapis.com

    def any(self) -> bool:
        return any(v is not None for v in self.model_dump().values())


class GcpSource(BaseModel):
    """A GCP billing account (+ projects) read through the Google SDKs; see
    docs/collectors-gcp.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["gcp"]
    name: str = Field(min_length=1)
    # e.g. "012345-6789AB-CDEF01"; the export rows must carry it.
    billing_account: str
    # Projects whose instances, CPU metrics and buckets are read.
    projects: list[str] = Field(default_factory=list)
    # Regions whose prices and instances are read; empty = every region.
    regions: list[str] = Field(default_factory=list)
    # The BigQuery billing export (`project.dataset.table`) and its kind.
    bigquery_table: str | None = None
    bigquery_kind: Literal["standard", "detailed", "focus"] = "standard"
    # BigQuery location of the export dataset (jobs run there), e.g. "US" or "EU".
    bigquery_location: str | None = None
    endpoints: GcpEndpoints = Field(default_factory=GcpEndpoints)
    # Each run re-reads this many days before the watermark: Google restates billing.
    restate_days: int = Field(default=3, ge=0, le=60)
    # Days of billing read on the first run (no watermark yet).
    first_days: int = Field(default=30, ge=1, le=365)
    # Attempts per call, the first included: 429, 5xx and connection errors are retried
    # with exponential backoff (retry_seconds, doubled each time).
    max_attempts: int = Field(default=4, ge=1, le=20)
    retry_seconds: float = Field(default=1.0, ge=0, le=60)
    prices: bool = True  # Cloud Billing Catalog Compute Engine SKUs -> price offers
    spend: bool = True  # BigQuery billing export -> cost records
    inventory: bool = True  # Compute Engine instances -> workloads
    metrics: bool = True  # Cloud Monitoring CPU utilization -> usage samples
    storage: bool = True  # Cloud Storage buckets -> storage groups

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        if isinstance(data, dict):
            secret = [k for k in data if any(h in str(k).lower() for h in SECRET_HINTS)]
            if secret:
                raise ValueError(
                    f"{', '.join(secret)}: credentials never go in optimizer.toml; the GCP "
                    "collector uses application default credentials, see docs/permissions.md"
                )
        return data

    @field_validator("billing_account")
    @classmethod
    def _account(cls, value: str) -> str:
        value = value.strip().upper()
        if not ACCOUNT.match(value):
            raise ValueError('billing_account must look like "012345-6789AB-CDEF01"')
        return value

    @field_validator("projects")
    @classmethod
    def _projects(cls, value: list[str]) -> list[str]:
        bad = [p for p in value if not PROJECT.match(p)]
        if bad:
            raise ValueError(f"not GCP project ids: {', '.join(bad)}")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if not REGION.match(r)]
        if bad:
            raise ValueError(f"not GCP regions (e.g. us-central1): {', '.join(bad)}")
        return value

    @field_validator("bigquery_table")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        if value is not None and not TABLE.match(value.strip()):
            raise ValueError(
                "bigquery_table must be project.dataset.table (letters, digits, _ and a "
                "project id), e.g. my-billing.billing_export.gcp_billing_export_v1_012345_"
                "6789AB_CDEF01"
            )
        return None if value is None else value.strip()

    @model_validator(mode="after")
    def _spend_needs_a_table(self) -> GcpSource:
        if self.spend and self.bigquery_table is None:
            raise ValueError(
                "spend = true needs bigquery_table (the billing export); set it, or "
                "spend = false to read prices and inventory only"
            )
        return self

    @property
    def source_key(self) -> str:
        """The source's key in the store (cost records, source state): its name."""
        return self.name

    @property
    def bigquery_project(self) -> str:
        """The project BigQuery jobs run in (and are billed to): the table's project."""
        return (self.bigquery_table or "").split(".")[0]
