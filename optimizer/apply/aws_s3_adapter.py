"""S3 through boto3: read a bucket's lifecycle rules and objects, make one call.

The only module of the apply package that imports boto3. Credentials come from boto3's
own chain (`profile`, `role_arn` on top); botocore's standard retry mode retries
throttling and 5xx with backoff.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from optimizer.apply.changes import Call, LiveObject, LiveState, TieringChange
from optimizer.apply.errors import ApplyConflict, ApplyDenied, ApplyTargetMissing, ApplyUnreachable
from optimizer.apply.settings import AwsApplyTarget
from store.errors import ApplyError

DENIED = {"AccessDenied", "AllAccessDisabled", "UnauthorizedOperation", "InvalidAccessKeyId",
          "SignatureDoesNotMatch", "ExpiredToken", "AccessDeniedException"}  # fmt: skip
MISSING = {"NoSuchBucket", "NoSuchKey"}
IAM_ACTION = {
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "CopyObject": "s3:GetObject + s3:PutObject",
    "ListObjectsV2": "s3:ListBucket",
}


def _error(exc: Exception, operation: str, target: str) -> ApplyError:
    where = f"s3 {operation} {target}"
    if isinstance(exc, bx.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        message = str(exc.response.get("Error", {}).get("Message", code))
        if code in DENIED:
            return ApplyDenied(
                f"{code}: {message}",
                where=where,
                fix=f"grant {IAM_ACTION.get(operation, 's3:' + operation)} on {target} to "
                "the apply role (docs/permissions.md)",
            )
        if code in MISSING:
            return ApplyTargetMissing(
                f"{code}: {message}", where=where, fix="re-collect and re-plan: it is gone"
            )
        if code == "InvalidObjectState":
            return ApplyConflict(
                f"{code}: {message}",
                where=where,
                fix="the object is archived: restore it first, or leave it in its class",
            )
        return ApplyError(f"{code}: {message}", where=where, fix="see the message above")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return ApplyUnreachable(
            str(exc), where=where, fix="check the network or [apply.aws] endpoint_url"
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ApplyDenied(
            str(exc), where=where, fix="configure AWS credentials (profile, env, role)"
        )
    return ApplyError(f"{type(exc).__name__}: {exc}", where=where)


class S3Target:
    def __init__(self, settings: AwsApplyTarget):
        session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
        config = Config(retries={"max_attempts": settings.max_attempts, "mode": "standard"})
        if settings.role_arn:
            creds = session.client("sts", endpoint_url=settings.endpoint_url).assume_role(
                RoleArn=settings.role_arn, RoleSessionName="optimizer-apply"
            )["Credentials"]
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=settings.region,
            )
        self.s3: Any = session.client("s3", endpoint_url=settings.endpoint_url, config=config)

    def read(self, change: TieringChange, max_objects: int) -> LiveState:
        rules = self._rules(change.bucket)
        if change.action == "lifecycle":
            return LiveState(rules)
        cutoff = datetime.now(UTC) - timedelta(days=change.after_days or 0)
        objects: list[LiveObject] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=change.bucket, Prefix=change.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    if change.after_days and item["LastModified"] > cutoff:
                        continue
                    tier = str(item.get("StorageClass") or "STANDARD")
                    objects.append(LiveObject(item["Key"], tier, int(item.get("Size", 0))))
                    if len(objects) > max_objects:
                        return LiveState(rules, tuple(objects[:max_objects]), truncated=True)
        except Exception as exc:
            raise _error(exc, "ListObjectsV2", change.bucket) from exc
        return LiveState(rules, tuple(objects))

    def _rules(self, bucket: str) -> tuple[dict[str, Any], ...] | None:
        try:
            answer = self.s3.get_bucket_lifecycle_configuration(Bucket=bucket)
        except bx.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
                return None
            raise _error(exc, "GetBucketLifecycleConfiguration", bucket) from exc
        except Exception as exc:
            raise _error(exc, "GetBucketLifecycleConfiguration", bucket) from exc
        return tuple(answer.get("Rules", []))

    def execute(self, call: Call) -> None:
        method = {
            "PutBucketLifecycleConfiguration": self.s3.put_bucket_lifecycle_configuration,
            "DeleteBucketLifecycle": self.s3.delete_bucket_lifecycle,
            "CopyObject": self.s3.copy_object,
        }.get(call.operation)
        if method is None:
            raise ApplyError(f"unknown S3 operation {call.operation}", where=call.target)
        try:
            method(**call.params)
        except Exception as exc:
            raise _error(exc, call.operation, call.target) from exc
