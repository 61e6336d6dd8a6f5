"""The only module that imports boto3/botocore: clients, paging, call counts, errors.

Credentials come from the SDK's own chain (environment, profiles, SSO, instance roles),
optionally with an STS role assumed on top; nothing here reads, stores, prints or logs
them. Throttling and transient errors are retried by botocore's "standard" retry mode;
what still fails becomes an `AwsError` with one of collectors.cloud.STATUSES and a hint.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from collectors.aws.errors import AwsError, client_error, iam_action
from collectors.aws.settings import AwsSource

__all__ = ["AwsApi", "AwsError", "map_error"]


def map_error(exc: BaseException, service: str, operation: str) -> AwsError:
    """Map a botocore exception raised by `service.operation` to a status and a hint."""
    action = iam_action(service, operation)
    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        return client_error(
            str(err.get("Code", "")), str(err.get("Message", "")), service, operation
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return AwsError(
            "auth_failed",
            f"{action}: no AWS credentials found",
            "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, "
            "or name a profile in the source",
        )
    if isinstance(exc, bx.ProfileNotFound):
        return AwsError("invalid_config", str(exc), "name a profile that exists in ~/.aws/config")
    if isinstance(
        exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ProxyConnectionError
    ):
        return AwsError(
            "unreachable",
            f"{action}: cannot connect ({exc})",
            "check the network, proxy and endpoint_url; the SDK retried already",
        )
    if isinstance(exc, bx.ReadTimeoutError):
        return AwsError("unreachable", f"{action}: timed out ({exc})", "run again later")
    if isinstance(exc, bx.ParamValidationError):
        return AwsError("error", f"{action}: {exc}", "a bug in the collector: please report it")
    return AwsError("error", f"{action}: {type(exc).__name__}: {exc}", "")


def _camel(snake: str) -> str:
    return "".join(part.title() for part in snake.split("_"))


class AwsApi:
    """boto3 clients for one source, counting every API call by IAM action."""

    def __init__(self, source: AwsSource):
        self.source = source
        self.calls: Counter[str] = Counter()
        self._clients: dict[tuple[str, str], Any] = {}
        self._config = Config(
            # total_max_attempts counts the first try (botocore's max_attempts would not)
            retries={"mode": "standard", "total_max_attempts": source.max_attempts},
            connect_timeout=10,
            read_timeout=60,
        )
        self._session: Any = None

    def _get_session(self) -> Any:
        if self._session is None:
            try:
                base = boto3.Session(profile_name=self.source.profile)
            except bx.BotoCoreError as exc:
                raise map_error(exc, "sts", "GetCallerIdentity") from None
            if self.source.role_arn:
                sts = base.client("sts", endpoint_url=self.source.endpoint_url, config=self._config)
                creds = self._invoke(
                    sts,
                    "sts",
                    "assume_role",
                    RoleArn=self.source.role_arn,
                    RoleSessionName="optimizer-collector",
                )["Credentials"]
                base = boto3.Session(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"],
                )
            self._session = base
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or self.source.regions[0]
        key = (service, region)
        if key not in self._clients:
            endpoint = self.source.endpoint_url
            if service == "pricing" and self.source.pricing_endpoint_url:
                endpoint = self.source.pricing_endpoint_url
            self._clients[key] = self._get_session().client(
                service,
                region_name=region,
                endpoint_url=endpoint,
                config=self._config,
            )
        return self._clients[key]

    def _invoke(self, client: Any, service: str, method: str, **kwargs: Any) -> Any:
        operation = _camel(method)
        self.calls[iam_action(service, operation)] += 1
        try:
            return getattr(client, method)(**kwargs)
        except (bx.ClientError, bx.BotoCoreError) as exc:
            raise map_error(exc, service, operation) from None

    def call(self, service: str, method: str, region: str | None = None, **kwargs: Any) -> Any:
        try:
            client = self.client(service, region)
        except bx.BotoCoreError as exc:
            raise map_error(exc, service, _camel(method)) from None
        return self._invoke(client, service, method, **kwargs)

    # -- the calls the collector makes ---------------------------------------------------
    def account_id(self) -> str:
        return str(self.call("sts", "get_caller_identity")["Account"])

    def cost_and_usage(
        self,
        start: date,
        end: date,
        group_by: list[str],
        granularity: str = "DAILY",
        filter_: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every page of GetCostAndUsage over [start, end), grouped by up to two
        dimensions, optionally filtered."""
        kwargs: dict[str, Any] = {
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
            "Granularity": granularity,
            "Metrics": ["UnblendedCost", "AmortizedCost", "UsageQuantity"],
            "GroupBy": [{"Type": "DIMENSION", "Key": k} for k in group_by],
        }
        if filter_:
            kwargs["Filter"] = filter_
        while True:
            page = self.call("ce", "get_cost_and_usage", region="us-east-1", **kwargs)
            yield page
            token = page.get("NextPageToken")
            if not token:
                return
            kwargs["NextPageToken"] = token

    def instances(self, region: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self.call("ec2", "describe_instances", region=region, **kwargs)
            for reservation in page.get("Reservations", []):
                out.extend(reservation.get("Instances", []))
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]

    def auto_scaling_groups(self, region: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"MaxRecords": 100}
        while True:
            page = self.call("autoscaling", "describe_auto_scaling_groups", region=region, **kwargs)
            out.extend(page.get("AutoScalingGroups", []))
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]

    def instance_types(self, region: str, names: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(names), 100):
            page = self.call(
                "ec2", "describe_instance_types", region=region, InstanceTypes=names[i : i + 100]
            )
            out.extend(page.get("InstanceTypes", []))
        return out

    def metric_data(
        self, region: str, queries: list[dict[str, Any]], start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """Every MetricDataResult, pages followed, at most 500 queries per request."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(queries), 500):
            kwargs: dict[str, Any] = {
                "MetricDataQueries": queries[i : i + 500],
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            while True:
                page = self.call("cloudwatch", "get_metric_data", region=region, **kwargs)
                out.extend(page.get("MetricDataResults", []))
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return out

    def buckets(self) -> list[dict[str, Any]]:
        return list(self.call("s3", "list_buckets").get("Buckets", []))

    def bucket_region(self, bucket: str) -> str:
        location = self.call("s3", "get_bucket_location", Bucket=bucket).get("LocationConstraint")
        return str(location or "us-east-1")

    def lifecycle_rules(self, bucket: str) -> list[dict[str, Any]]:
        try:
            reply = self.call("s3", "get_bucket_lifecycle_configuration", Bucket=bucket)
        except AwsError as exc:
            if "NoSuchLifecycleConfiguration" in exc.detail:
                return []
            raise
        return list(reply.get("Rules", []))

    def objects(
        self, bucket: str, prefix: str = "", region: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """ListObjectsV2 entries (Key, Size, ETag, StorageClass, …), pages followed."""
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if prefix:
            kwargs["Prefix"] = prefix
        while True:
            page = self.call("s3", "list_objects_v2", region=region, **kwargs)
            yield from page.get("Contents", [])
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def get_bytes(self, bucket: str, key: str, region: str | None = None) -> bytes:
        """A small object's body (a manifest)."""
        body = self.call("s3", "get_object", region=region, Bucket=bucket, Key=key)["Body"]
        try:
            return bytes(body.read())
        except (bx.BotoCoreError, OSError) as exc:
            raise map_error(exc, "s3", "GetObject") from None

    def download(self, bucket: str, key: str, path: Path, region: str | None = None) -> None:
        """Stream one object to `path` (data files can be large: never held in memory)."""
        body = self.call("s3", "get_object", region=region, Bucket=bucket, Key=key)["Body"]
        try:
            with path.open("wb") as fh:
                for chunk in body.iter_chunks(1 << 20):
                    fh.write(chunk)
        except (bx.BotoCoreError, OSError) as exc:
            raise map_error(exc, "s3", "GetObject") from None

    def spot_history(self, region: str, types: list[str], at: datetime) -> list[dict[str, Any]]:
        """Linux/UNIX spot prices in effect at `at` (StartTime = EndTime = at gives each
        type x AZ's current price), pages followed."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(types), 100):
            kwargs: dict[str, Any] = {
                "InstanceTypes": types[i : i + 100],
                "ProductDescriptions": ["Linux/UNIX"],
                "StartTime": at,
                "EndTime": at,
                "MaxResults": 1000,
            }
            while True:
                page = self.call("ec2", "describe_spot_price_history", region=region, **kwargs)
                out.extend(page.get("SpotPriceHistory", []))
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return out

    def price_list(self, region: str, filters: dict[str, str]) -> Iterator[str]:
        """Price List Query API GetProducts (AmazonEC2) PriceList items, pages followed.
        The API lives in us-east-1 (also ap-south-1, eu-central-1) whatever the region."""
        kwargs: dict[str, Any] = {
            "ServiceCode": "AmazonEC2",
            "Filters": [
                {"Type": "TERM_MATCH", "Field": k, "Value": v}
                for k, v in {"regionCode": region, **filters}.items()
            ],
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        while True:
            page = self.call("pricing", "get_products", region="us-east-1", **kwargs)
            yield from page.get("PriceList", [])
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]
