"""Azure Blob through its SDKs: read an account's management policy and blobs, make one
call. The only module of the apply package that imports azure.*.

ARM (azure-mgmt-storage) holds the lifecycle management policy; the account's resource
group is found by listing the subscription's storage accounts. The Blob service
(azure-storage-blob) lists blobs and sets their tier. Credentials: DefaultAzureCredential
for both, unless `sas_token_env`/`account_key_env` name a SAS or key for the Blob
service (emulators, delegated tokens). Tests only: with an `arm_endpoint` and
OPTIMIZER_AZURE_TEST_TOKEN set, that string is ARM's bearer token (a local fake).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import DefaultAzureCredential
from azure.mgmt.storage import StorageManagementClient
from azure.storage.blob import BlobServiceClient, ExponentialRetry

from collectors.azure.adapter import StaticToken
from optimizer.apply.azure_blob_mapping import POLICY_NAME, split_bucket
from optimizer.apply.changes import Call, LiveObject, LiveState, TieringChange
from optimizer.apply.errors import ApplyConflict, ApplyDenied, ApplyTargetMissing, ApplyUnreachable
from optimizer.apply.settings import AzureApplyTarget
from store.errors import ApplyError, ConfigError

TEST_TOKEN_ENV = "OPTIMIZER_AZURE_TEST_TOKEN"
_MGMT = "Microsoft.Storage/storageAccounts"
# operation -> (the RBAC action it needs, the smallest built-in role granting it)
RBAC = {
    "StorageAccounts_List": (f"{_MGMT}/read", "Reader"),
    "ManagementPolicies_Get": (f"{_MGMT}/managementPolicies/read", "Reader"),
    "ManagementPolicies_CreateOrUpdate": (f"{_MGMT}/managementPolicies/write",
                                          "Storage Account Contributor"),
    "ManagementPolicies_Delete": (f"{_MGMT}/managementPolicies/delete",
                                  "Storage Account Contributor"),
    "ListBlobs": (f"{_MGMT}/blobServices/containers/blobs/read", "Storage Blob Data Reader"),
    "ListContainers": (f"{_MGMT}/blobServices/containers/read", "Storage Blob Data Reader"),
    "SetBlobTier": (f"{_MGMT}/blobServices/containers/blobs/write",
                    "Storage Blob Data Contributor"),
}  # fmt: skip
DENIED = {"AuthorizationFailed", "AuthorizationPermissionMismatch", "AuthorizationFailure",
          "AuthenticationFailed", "InsufficientAccountPermissions", "LinkedAuthorizationFailed",
          "InvalidAuthenticationToken", "ExpiredAuthenticationToken"}  # fmt: skip


def _message(exc: BaseException) -> str:
    """The service's own message, first line only (Blob adds RequestId/Time lines, ARM's
    SDK prefixes the code, which the caller shows once)."""
    error = getattr(exc, "error", None)
    text = str(getattr(error, "message", None) or getattr(exc, "message", None) or exc)
    lines = text.strip().splitlines()
    return " ".join((lines[0] if lines else "").split())[:600]


def _error(exc: Exception, operation: str, target: str) -> ApplyError:
    """An azure-core exception -> the ApplyError that says what to do about it."""
    where = f"azure {operation} {target}"
    action, role = RBAC.get(operation, ("", ""))
    if isinstance(exc, ClientAuthenticationError) and exc.status_code is None:
        fix = "DefaultAzureCredential found no identity: `az login`, or set "
        fix += "AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret or certificate"
        return ApplyDenied(_message(exc), where=where, fix=fix)
    if isinstance(exc, HttpResponseError):
        code = str(
            getattr(exc, "error_code", None) or getattr(exc.error, "code", None) or exc.status_code
        )
        text = f"{code}: {_message(exc)}"
        if exc.status_code in (401, 403) or code in DENIED:
            # the account, or account/container (a blob: its container)
            scope = target if target.startswith("/") else "/".join(target.split("/")[:2])
            return ApplyDenied(text, where=where,
                               fix=f"grant {role} (action {action}) on {scope} to the "
                               "identity optimizer applies with (docs/apply-azure.md)")  # fmt: skip
        if isinstance(exc, ResourceNotFoundError) or exc.status_code == 404:
            return ApplyTargetMissing(text, where=where,
                                      fix="re-collect and re-plan: it is gone")  # fmt: skip
        if code == "BlobArchived" or exc.status_code == 409:
            return ApplyConflict(text, where=where,
                                 fix="the blob is archived or being rehydrated: wait, or "
                                 "leave it in its tier")  # fmt: skip
        return ApplyError(text, where=where, fix="see the message above; run again later")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return ApplyUnreachable(_message(exc), where=where,
                                fix="check the network, or [apply.azure] arm_endpoint / "
                                "blob_endpoint; the SDK retried already")  # fmt: skip
    return ApplyError(f"{type(exc).__name__}: {_message(exc)}", where=where)


class BlobTarget:
    def __init__(self, settings: AzureApplyTarget):
        self.settings = settings
        test_token = os.environ.get(TEST_TOKEN_ENV)
        self._arm_credential: Any = (
            StaticToken(test_token) if settings.arm_endpoint and test_token
            else DefaultAzureCredential(exclude_interactive_browser_credential=True)
        )  # fmt: skip
        retries = settings.max_attempts - 1
        self._arm_kwargs: dict[str, Any] = {
            "connection_verify": settings.ca_bundle or True,
            "retry_total": retries, "retry_connect": retries,
            "retry_read": retries, "retry_status": retries,
        }  # fmt: skip
        if settings.arm_endpoint:
            self._arm_kwargs["base_url"] = settings.arm_endpoint
        self._mgmt: dict[str, Any] = {}
        self._blobs: dict[str, Any] = {}
        self._groups: dict[tuple[str, str], str] = {}  # (subscription, account) -> group

    # -- clients ------------------------------------------------------------------------
    def _subscription(self, given: str | None) -> str:
        sub = self.settings.subscription_id or given
        if not sub:
            raise ConfigError(
                "no Azure subscription for the storage account",
                where="[apply.azure] subscription_id",
                fix="set subscription_id in [apply.azure], or re-collect so the storage "
                "group records its subscription",
            )
        return sub

    def _arm(self, sub: str) -> Any:
        if sub not in self._mgmt:
            self._mgmt[sub] = StorageManagementClient(self._arm_credential, sub,
                                                      **self._arm_kwargs)  # fmt: skip
        return self._mgmt[sub]

    def _blob(self, account: str) -> Any:
        if account not in self._blobs:
            s = self.settings
            credential: Any
            if s.sas_token_env and os.environ.get(s.sas_token_env):
                credential = AzureSasCredential(os.environ[s.sas_token_env])
            elif s.account_key_env and os.environ.get(s.account_key_env):
                credential = AzureNamedKeyCredential(account, os.environ[s.account_key_env])
            else:
                credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
            retry = ExponentialRetry(
                initial_backoff=1,
                increment_base=2,
                retry_total=s.max_attempts - 1,
                random_jitter_range=1,
            )
            self._blobs[account] = BlobServiceClient(
                s.blob_endpoint.replace("{account}", account),
                credential=credential,
                retry_policy=retry,
            )
        return self._blobs[account]

    def _group(self, sub: str, account: str) -> str:
        """The account's resource group, from the subscription's storage accounts."""
        if (sub, account) not in self._groups:
            try:
                for item in self._arm(sub).storage_accounts.list():
                    parts = str(item.id).split("/")
                    low = [p.lower() for p in parts]
                    if "resourcegroups" in low:
                        group = parts[low.index("resourcegroups") + 1]
                        self._groups[(sub, str(item.name))] = group
            except Exception as exc:  # azure-core raises many kinds; all are mapped
                raise _error(exc, "StorageAccounts_List", f"/subscriptions/{sub}") from exc
            if (sub, account) not in self._groups:
                raise ApplyTargetMissing(
                    f"storage account {account} is not in subscription {sub}",
                    where="azure StorageAccounts_List",
                    fix="re-collect and re-plan, or set [apply.azure] subscription_id",
                )
        return self._groups[(sub, account)]

    # -- the protocol -------------------------------------------------------------------
    def read(self, change: TieringChange, max_objects: int) -> LiveState:
        account, container = split_bucket(change.bucket)
        rules = self._rules(self._subscription(change.account), account)
        if change.action == "lifecycle":
            return LiveState(rules)
        cutoff = datetime.now(UTC) - timedelta(days=change.after_days or 0)
        service = self._blob(account)
        objects: list[LiveObject] = []
        operation, where = "ListContainers", account
        try:
            names = [container] if container else [c.name for c in service.list_containers()]
            for name in names:
                operation, where = "ListBlobs", f"{account}/{name}"
                blobs = service.get_container_client(name).list_blobs(
                    name_starts_with=change.prefix or None
                )
                for blob in blobs:
                    if str(blob.blob_type) not in ("BlobType.BLOCKBLOB", "BlockBlob"):
                        continue
                    if change.after_days and blob.last_modified > cutoff:
                        continue
                    tier = str(blob.blob_tier or "Hot")
                    objects.append(LiveObject(f"{name}/{blob.name}", tier, int(blob.size or 0)))
                    if len(objects) > max_objects:
                        return LiveState(rules, tuple(objects[:max_objects]), truncated=True)
        except Exception as exc:  # azure-core raises many kinds; all are mapped
            raise _error(exc, operation, where) from exc
        return LiveState(rules, tuple(objects))

    def _rules(self, sub: str, account: str) -> tuple[dict[str, Any], ...] | None:
        group = self._group(sub, account)
        try:
            policy = self._arm(sub).management_policies.get(group, account, POLICY_NAME)
        except ResourceNotFoundError:
            return None
        except Exception as exc:  # azure-core raises many kinds; all are mapped
            raise _error(exc, "ManagementPolicies_Get", f"{group}/{account}") from exc
        plain = policy.as_dict()  # the REST JSON, nested models included
        rules = ((plain.get("properties") or {}).get("policy") or {}).get("rules")
        return tuple(dict(r) for r in rules or ())

    def execute(self, call: Call) -> None:
        p = call.params
        try:
            if call.operation == "SetBlobTier":
                blob = self._blob(p["accountName"]).get_blob_client(p["containerName"],
                                                                    p["blobName"])  # fmt: skip
                blob.set_standard_blob_tier(p["tier"])
                return
            sub = self._subscription(p.get("subscriptionId"))
            group = self._group(sub, p["accountName"])
            policies = self._arm(sub).management_policies
            if call.operation == "ManagementPolicies_CreateOrUpdate":
                body = {"properties": p["properties"]}
                policies.create_or_update(group, p["accountName"], p["managementPolicyName"], body)
            elif call.operation == "ManagementPolicies_Delete":
                policies.delete(group, p["accountName"], p["managementPolicyName"])
            else:
                raise ApplyError(f"unknown Azure operation {call.operation}", where=call.target)
        except ApplyError:
            raise
        except Exception as exc:  # azure-core raises many kinds; all are mapped
            raise _error(exc, call.operation, call.target) from exc
