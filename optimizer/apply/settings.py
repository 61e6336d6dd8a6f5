"""`[apply]` in optimizer.toml: the blast-radius limits and how to reach each cloud.

Credentials never go here: each SDK finds them through its own standard chain (boto3's,
azure-identity's DefaultAzureCredential, Google's application default credentials).
The endpoint fields exist for emulators, tests and private endpoints.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AwsApplyTarget(_Strict):
    """S3 through boto3."""

    profile: str | None = None
    role_arn: str | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None  # moto, LocalStack, a VPC endpoint
    max_attempts: int = Field(default=5, ge=1, le=20)


class AzureApplyTarget(_Strict):
    """Blob lifecycle management (azure-mgmt-storage) and blob tiers (azure-storage-blob)."""

    # The subscription holding the storage accounts; None = the storage group's account_id.
    subscription_id: str | None = None
    arm_endpoint: str | None = None  # Azure Resource Manager, when not management.azure.com
    ca_bundle: str | None = None  # a CA file for a private ARM endpoint (tests: trustme)
    # The Blob service URL of an account; {account} is replaced by the account's name.
    blob_endpoint: str = "https://{account}.blob.core.windows.net"
    # Name of an environment variable holding the account key (emulators only: Azurite's
    # well-known key). Unset = DefaultAzureCredential (Storage Blob Data Contributor).
    account_key_env: str | None = None
    # Name of an environment variable holding a SAS token for the Blob service (a
    # delegated, narrowly scoped token); wins over account_key_env when set.
    sas_token_env: str | None = None
    max_attempts: int = Field(default=4, ge=1, le=20)


class GcpApplyTarget(_Strict):
    """Bucket lifecycle and object storage class rewrites through google-cloud-storage."""

    project: str | None = None
    endpoint: str | None = None  # gcp-storage-emulator; anonymous credentials there
    max_attempts: int = Field(default=4, ge=1, le=20)
    timeout_s: float = Field(default=60.0, gt=0, le=3600)  # per HTTP request


class ApplySettings(_Strict):
    """Blast-radius limits per `apply --execute` run, and the clouds it may reach."""

    max_changes: int = Field(default=10, ge=1, le=10_000)
    # Bytes whose storage class may change in one run (sum over the changes applied).
    max_bytes: int = Field(default=50 * 10**12, ge=1)
    # A one-off change copies or re-tiers each object: above this many it is refused
    # (a lifecycle rule does the same work inside the cloud).
    max_objects_per_change: int = Field(default=1000, ge=1, le=1_000_000)
    lock_ttl_seconds: float = Field(default=900.0, ge=10)
    # The nightly `optimizer run` applies approved changes only when this is true;
    # otherwise its apply stage is a dry run that lists the calls.
    execute_in_run: bool = False
    aws: AwsApplyTarget | None = None
    azure: AzureApplyTarget | None = None
    gcp: GcpApplyTarget | None = None
