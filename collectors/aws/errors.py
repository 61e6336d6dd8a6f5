"""AWS error codes -> source statuses, and API operations -> IAM actions. SDK-free, so
the status rules can be read (and tested) without botocore; adapter.py applies them."""

from __future__ import annotations

from collectors.cloud import SourceError

AUTH_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",
    }
)
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled"}
)
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TooManyRequestsException",
        "SlowDown",
    }
)
# boto3 service name -> IAM service prefix where they differ
IAM_PREFIX = {"cloudwatch": "cloudwatch", "ce": "ce", "ec2": "ec2", "s3": "s3", "sts": "sts",
              "autoscaling": "autoscaling", "pricing": "pricing"}  # fmt: skip
# operations whose IAM action is not the operation's own name
IAM_ACTION = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action an API operation needs, e.g. ("ce", "GetCostAndUsage")."""
    return IAM_ACTION.get((service, operation), f"{IAM_PREFIX.get(service, service)}:{operation}")


class AwsError(SourceError):
    """A call that failed after the SDK's retries, mapped to a source status."""


def client_error(code: str, message: str, service: str, operation: str) -> AwsError:
    """An AWS error response (code, message) of `service.operation` as a status + hint."""
    action = iam_action(service, operation)
    message = message[:300]
    where = f"{action}: {code}" + (f" ({message})" if message else "")
    if code in AUTH_CODES:
        return AwsError(
            "auth_failed",
            where,
            "the credentials boto3 found are invalid or expired: refresh them "
            "(aws sso login, new keys, or the profile named in the source)",
        )
    if code in DENIED_CODES:
        return AwsError(
            "permission_denied",
            where,
            f"grant {action} to the identity this source uses (see docs/permissions.md)",
            missing_permission=action,
        )
    if code in THROTTLE_CODES:
        return AwsError(
            "throttled",
            where,
            "AWS kept throttling after the SDK's retries: run again later or raise "
            "max_attempts in the source",
        )
    if code == "DataUnavailableException":
        return AwsError("no_data", where, "Cost Explorer has no data for this account yet")
    if code == "NoSuchBucket":
        return AwsError(
            "invalid_config", where, "check data_export.bucket: no such bucket is visible"
        )
    if code in ("OptInRequired", "SubscriptionRequiredException"):
        return AwsError("permission_denied", where, "enable the service for this account")
    return AwsError("error", where, "see the AWS error code above")
