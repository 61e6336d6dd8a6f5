"""`[[sources]] type = "aws"`: one AWS account (or a member account through a role).

Credentials never go here: boto3 finds them through its standard chain (environment,
shared config and credentials files, SSO, instance or task roles). `profile` picks a
named profile from that chain; `role_arn` is assumed on top of it through STS.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DataExport(BaseModel):
    """Where an AWS Data Exports export (CUR 2.0 or FOCUS 1.x) is delivered in S3.

    `prefix` is the export's folder: the one holding `metadata/BILLING_PERIOD=YYYY-MM/
    <export>-Manifest.json` and `data/BILLING_PERIOD=YYYY-MM/...` (S3 prefix + export name).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3)
    prefix: str = ""
    format: Literal["cur2", "focus"] = "cur2"
    # The bucket's region (S3 answers from any region, but a wrong one costs a redirect).
    region: str | None = None
    # Backfill: read billing periods from this one (YYYY-MM) on. Default: the periods the
    # read window touches plus the previous month (AWS restates it until the bill closes).
    first_period: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


class AwsSource(BaseModel):
    """An AWS account read through boto3; see docs/collectors-aws.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["aws"]
    name: str = Field(min_length=1)
    # Regions whose EC2 instances, CloudWatch metrics are read (Cost Explorer is global).
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    # A named profile of the SDK's shared config; None = the default chain.
    profile: str | None = None
    # Assume this role (e.g. in a member account) on top of the profile's credentials.
    role_arn: str | None = None
    # Send every call here instead of AWS (tests, local fakes, VPC endpoints).
    endpoint_url: str | None = None
    # The Price List Query API's endpoint, when not AWS's (tests; endpoint_url otherwise).
    pricing_endpoint_url: str | None = None
    # Instance types priced in every region besides those running there.
    price_instance_types: list[str] = Field(default_factory=list)
    # Each run re-reads this many days before the watermark: AWS restates recent billing.
    restate_days: int = Field(default=3, ge=0, le=60)
    # Days of billing read on the first run (no watermark yet).
    first_days: int = Field(default=30, ge=1, le=365)
    # Attempts per call, the first included: botocore's "standard" retry mode retries
    # throttling, 5xx and connection errors with backoff (AWS_MAX_ATTEMPTS semantics).
    max_attempts: int = Field(default=5, ge=1, le=20)
    # Preferred spend source when set: Cost Explorer is then not called for spend.
    data_export: DataExport | None = None
    cost_explorer: bool = True
    # Split Cost Explorer spend by PURCHASE_TYPE (FOCUS PricingCategory): 1 + one request
    # per purchase type present instead of 1 (each $0.01); see docs/collectors-aws.md.
    ce_purchase_type: bool = False  # spend (ce:GetCostAndUsage: $0.01 per request)
    inventory: bool = True  # EC2 instances -> workloads
    autoscaling: bool = True  # each instance's Auto Scaling group, noted on its workload
    metrics: bool = True  # CloudWatch CPUUtilization -> usage samples
    s3: bool = True  # S3 buckets -> storage groups
    # On-demand (pricing:GetProducts) and spot (ec2:DescribeSpotPriceHistory) price offers
    prices: bool = True

    @property
    def source_key(self) -> str:
        """The source's key in the store (cost records, source state): its name, as
        `optimizer sources list` looks it up (FOCUS sources use `<name>:<file>`)."""
        return self.name
