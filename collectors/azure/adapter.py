"""The only module that imports azure.*: the clients, paging, call counts, errors.

Credentials come from azure-identity's DefaultAzureCredential chain (environment
variables, workload or managed identity, Azure CLI / azd / PowerShell login); nothing
here reads, stores, prints or logs them. Tests only: when the source has an
`endpoint_url` and OPTIMIZER_AZURE_TEST_TOKEN is set, that string is the bearer token
(a local fake checks it), so no real identity is ever needed against a fake.

429 (honouring Retry-After), 5xx and connection errors are retried by azure-core's
RetryPolicy, `max_attempts` counting the first try; what still fails becomes an
`AzureError` with one of collectors.cloud.STATUSES, a hint and the missing action.
Every call returns plain JSON in the REST shapes (camelCase), so the mapping modules
never see SDK models.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core import PipelineClient
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import RetryPolicy, UserAgentPolicy
from azure.core.rest import HttpRequest
from azure.identity import DefaultAzureCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.costmanagement import CostManagementClient
from azure.mgmt.costmanagement.models import QueryDefinition
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.storage import StorageManagementClient

from collectors.azure.settings import AzureSource
from collectors.cloud import SourceError

API_VERSION = "2023-11-01"
METRICS_API_VERSION = "2024-02-01"  # what azure-mgmt-monitor's metrics.list sends
QUERY_ACTION = "Microsoft.CostManagement/query/action"
READER_ROLE = "Cost Management Reader"
TEST_TOKEN_ENV = "OPTIMIZER_AZURE_TEST_TOKEN"
MAX_PAGES = 10_000
# operation -> (the Azure RBAC action it needs, the smallest built-in role granting it)
ACTIONS: dict[str, tuple[str, str]] = {
    "query.usage": (QUERY_ACTION, READER_ROLE),
    "virtual_machines.list_all": ("Microsoft.Compute/virtualMachines/read", "Reader"),
    "virtual_machine_scale_sets.list_all": (
        "Microsoft.Compute/virtualMachineScaleSets/read", "Reader"),
    "resource_skus.list": ("Microsoft.Compute/skus/read", "Reader"),
    "metrics.list": ("Microsoft.Insights/metrics/read", "Monitoring Reader"),
    "storage_accounts.list": ("Microsoft.Storage/storageAccounts/read", "Reader"),
    "management_policies.get": (
        "Microsoft.Storage/storageAccounts/managementPolicies/read", "Reader"),
}  # fmt: skip


class AzureError(SourceError):
    """A call that failed after the SDK's retries, mapped to a source status."""


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())[:300]


def map_error(exc: BaseException, where: str, operation: str = "query.usage") -> AzureError:
    """Map an azure-core exception raised by `operation` on `where` to a status and hint."""
    action, role = ACTIONS.get(operation, ("", ""))
    where = f"{operation} {where}"
    if isinstance(exc, ClientAuthenticationError) and exc.status_code != 401:
        return AzureError(
            "auth_failed",
            f"{where}: authentication failed ({_message(exc)})",
            "DefaultAzureCredential found no valid credentials: run `az login`, set "
            "AZURE_TENANT_ID/AZURE_CLIENT_ID with a secret or certificate in the "
            "environment, or run where a managed identity is assigned",
        )
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        detail = f"{where}: HTTP {status} ({_message(exc)})"
        if status == 401:
            return AzureError(
                "auth_failed",
                detail,
                "Azure refused the token DefaultAzureCredential found (expired or for "
                "another tenant): `az login` again, or check the tenant and client of the "
                "identity in the environment",
            )
        if status == 403 and action:
            return AzureError(
                "permission_denied",
                detail,
                f"grant the {role} role (action {action}) to the identity this source uses "
                "(see docs/permissions.md)",
                missing_permission=action,
            )
        if status == 429:
            return AzureError(
                "throttled",
                detail,
                "Azure kept throttling after the SDK's retries: run again later or raise "
                "max_attempts in the source",
            )
        if status == 404:
            return AzureError("invalid_config", detail, "check the scope and subscriptions exist")
        if status == 400:
            hint = "the request was refused: see the message above"
            if operation == "query.usage":
                hint += '; an older scope may need cost_column = "PreTaxCost" in the source'
            return AzureError("error", detail, hint)
        return AzureError("error", detail, "Azure answered with an error: run again later")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return AzureError(
            "unreachable",
            f"{where}: cannot connect ({_message(exc)})",
            "check the network, proxy, endpoint_url and retail_prices_url; the SDK retried already",
        )
    return AzureError("error", f"{where}: {type(exc).__name__}: {_message(exc)}", "")


class StaticToken:
    """Tests only: a bearer token from OPTIMIZER_AZURE_TEST_TOKEN for a local fake."""

    def __init__(self, token: str):
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    def close(self) -> None:
        pass


def skiptoken(next_link: str) -> str | None:
    """The $skiptoken of a nextLink (None when there is none)."""
    values = parse_qs(urlsplit(next_link).query).get("$skiptoken")
    return values[0] if values else None


def _plain(item: Any) -> dict[str, Any]:
    """An SDK model as its REST JSON (compute and storage models are mappings)."""
    if hasattr(item, "as_dict"):
        return dict(item.as_dict())
    return dict(item)


class AzureApi:
    """The SDK clients of one source (built on first use), counting calls by operation."""

    def __init__(self, source: AzureSource):
        self.source = source
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()  # metrics calls run on worker threads
        test_token = os.environ.get(TEST_TOKEN_ENV)
        self._credential: Any = (
            StaticToken(test_token)
            if source.endpoint_url and test_token
            else DefaultAzureCredential(exclude_interactive_browser_credential=True)
        )
        retries = source.max_attempts - 1
        self._kwargs: dict[str, Any] = {
            "connection_verify": source.ca_bundle or True,
            "retry_total": retries,
            "retry_connect": retries,
            "retry_read": retries,
            "retry_status": retries,
        }
        if source.endpoint_url:
            self._kwargs["base_url"] = source.endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}

    def count(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1

    def _client(self, kind: str, subscription: str = "") -> Any:
        with self._lock:
            return self._make_client(kind, subscription)

    def _make_client(self, kind: str, subscription: str) -> Any:
        key = (kind, subscription)
        if key not in self._clients:
            if kind == "cost":
                made: Any = CostManagementClient(
                    self._credential, api_version=API_VERSION, **self._kwargs
                )
            elif kind == "prices":
                made = PipelineClient(
                    self.source.retail_prices_url,
                    policies=[
                        UserAgentPolicy("optimizer-collector"),
                        RetryPolicy(retry_total=self.source.max_attempts - 1),
                    ],
                )
            else:
                cls = {"compute": ComputeManagementClient, "monitor": MonitorManagementClient,
                       "storage": StorageManagementClient}[kind]  # fmt: skip
                made = cls(self._credential, subscription, **self._kwargs)
            self._clients[key] = made
        return self._clients[key]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._credential.close()

    def __enter__(self) -> AzureApi:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- Cost Management ------------------------------------------------------------------
    def query(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of one query (its REST body), nextLink's $skiptoken followed."""
        scope = self.source.scope
        params: dict[str, str] = {}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            self.count(f"query.usage {body.get('type', '?')}")
            try:
                result = self._client("cost").query.usage(
                    scope.lstrip("/"), QueryDefinition(body), params=params
                )
            except Exception as exc:  # azure-core raises many kinds; all are mapped
                raise map_error(exc, scope) from None
            page: dict[str, Any] = result.as_dict() if result is not None else {}
            yield page
            link = (page.get("properties") or {}).get("nextLink")
            if not link:
                return
            token = skiptoken(str(link))
            if token is None or token in seen:
                raise AzureError(
                    "error", f"query.usage {scope}: nextLink without a new $skiptoken", ""
                )
            seen.add(token)
            params = {"$skiptoken": token}
        raise AzureError("error", f"query.usage {scope}: more than {MAX_PAGES} pages", "")

    # -- ARM lists ------------------------------------------------------------------------
    def _list(self, operation: str, where: str, pager: Callable[[], Any]) -> list[dict[str, Any]]:
        """Every item of a paged ARM list (nextLink followed by the SDK), one call per page."""
        out: list[dict[str, Any]] = []
        self.count(operation)
        try:
            for i, page in enumerate(pager().by_page()):
                if i:
                    self.count(operation)
                out.extend(_plain(item) for item in page)
        except Exception as exc:  # azure-core raises many kinds; all are mapped
            raise map_error(exc, where, operation) from None
        return out

    def virtual_machines(self, subscription: str) -> list[dict[str, Any]]:
        vms = self._client("compute", subscription).virtual_machines
        return self._list("virtual_machines.list_all", f"/subscriptions/{subscription}",
                          vms.list_all)  # fmt: skip

    def scale_sets(self, subscription: str) -> list[dict[str, Any]]:
        sets = self._client("compute", subscription).virtual_machine_scale_sets
        return self._list("virtual_machine_scale_sets.list_all",
                          f"/subscriptions/{subscription}", sets.list_all)  # fmt: skip

    def resource_skus(self, subscription: str, location: str) -> list[dict[str, Any]]:
        skus = self._client("compute", subscription).resource_skus
        return self._list("resource_skus.list", f"/subscriptions/{subscription} {location}",
                          lambda: skus.list(filter=f"location eq '{location}'"))  # fmt: skip

    def storage_accounts(self, subscription: str) -> list[dict[str, Any]]:
        accounts = self._client("storage", subscription).storage_accounts
        return self._list("storage_accounts.list", f"/subscriptions/{subscription}",
                          accounts.list)  # fmt: skip

    def lifecycle_rules(self, subscription: str, group: str, account: str) -> list[Any]:
        """The account's lifecycle management rules; none when it has no policy (404)."""
        policies = self._client("storage", subscription).management_policies
        self.count("management_policies.get")
        try:
            policy = _plain(policies.get(group, account, "default"))
        except ResourceNotFoundError:
            return []
        except Exception as exc:  # azure-core raises many kinds; all are mapped
            raise map_error(exc, f"{group}/{account}", "management_policies.get") from None
        rules = ((policy.get("properties") or {}).get("policy") or {}).get("rules")
        return list(rules) if isinstance(rules, list) else []

    # -- Azure Monitor --------------------------------------------------------------------
    def metrics(
        self, resource_id: str, names: str, timespan: str, odata_filter: str | None = None
    ) -> dict[str, Any]:
        """One Monitor metrics list (`GET {resource}/providers/Microsoft.Insights/metrics`,
        hourly averages over `timespan`) as REST JSON; safe from several threads. Sent
        through the MonitorManagementClient's pipeline (token, retries) with its
        `_send_request`, not `metrics.list`: that one deserializes every point into SDK
        models first, ~0.2 s a call for a month of hourly CPU + memory."""
        monitor = self._client("monitor", resource_id.split("/")[2])
        params = {"api-version": METRICS_API_VERSION, "timespan": timespan, "interval": "PT1H",
                  "metricnames": names, "aggregation": "Average"}  # fmt: skip
        if odata_filter:
            params["$filter"] = odata_filter
        path = f"/{resource_id.strip('/')}/providers/Microsoft.Insights/metrics"
        self.count(f"metrics.list {names}")
        try:
            # multi-API clients name send_request `_send_request` (documented there)
            response = monitor._send_request(HttpRequest("GET", path, params=params))
            if response.status_code == 404:  # deleted since it was listed: no data
                return {}
            response.raise_for_status()
            reply = response.json()
        except Exception as exc:  # azure-core raises many kinds; all are mapped
            raise map_error(exc, resource_id, "metrics.list") from None
        return reply if isinstance(reply, dict) else {}

    # -- Retail Prices API ----------------------------------------------------------------
    def retail_prices(self, odata_filter: str) -> Iterator[dict[str, Any]]:
        """Every item of the public Retail Prices API for `odata_filter`, NextPageLink
        followed (anonymous: no token is sent there)."""
        client = self._client("prices")
        url = self.source.retail_prices_url
        params: dict[str, str] | None = {"$filter": odata_filter}  # prices in USD by default
        for _ in range(MAX_PAGES):
            self.count("retail_prices")
            try:
                reply = client.send_request(
                    HttpRequest("GET", url, params=params),
                    connection_verify=self.source.ca_bundle or True,
                )
                reply.raise_for_status()
                page = reply.json()
            except Exception as exc:  # azure-core raises many kinds; all are mapped
                raise map_error(exc, url, "retail_prices") from None
            yield from page.get("Items") or []
            link = page.get("NextPageLink")
            if not link:
                return
            url, params = str(link), None
        raise AzureError("error", f"retail_prices {url}: more than {MAX_PAGES} pages", "")
