"""The only module that imports azure.*: the client, paging, call counts, errors.

Credentials come from azure-identity's DefaultAzureCredential chain (environment
variables, workload or managed identity, Azure CLI / azd / PowerShell login); nothing
here reads, stores, prints or logs them. Tests only: when the source has an
`endpoint_url` and OPTIMIZER_AZURE_TEST_TOKEN is set, that string is the bearer token
(a local fake checks it), so no real identity is ever needed against a fake.

429 (honouring Retry-After), 5xx and connection errors are retried by azure-core's
RetryPolicy, `max_attempts` counting the first try; what still fails becomes an
`AzureError` with one of collectors.cloud.STATUSES and a hint.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import DefaultAzureCredential
from azure.mgmt.costmanagement import CostManagementClient
from azure.mgmt.costmanagement.models import QueryDefinition

from collectors.azure.settings import AzureSource
from collectors.cloud import SourceError

API_VERSION = "2023-11-01"
QUERY_ACTION = "Microsoft.CostManagement/query/action"
READER_ROLE = "Cost Management Reader"
TEST_TOKEN_ENV = "OPTIMIZER_AZURE_TEST_TOKEN"
MAX_PAGES = 10_000


class AzureError(SourceError):
    """A call that failed after the SDK's retries, mapped to a source status."""


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())[:300]


def map_error(exc: BaseException, scope: str) -> AzureError:
    """Map an azure-core exception raised by query.usage on `scope` to a status and hint."""
    where = f"query.usage {scope}"
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
                "Azure refused the token DefaultAzureCredential found: `az login` again, or "
                "check the tenant and client of the identity in the environment",
            )
        if status == 403:
            return AzureError(
                "permission_denied",
                detail,
                f"grant the {READER_ROLE} role (action {QUERY_ACTION}) at {scope} to the "
                "identity this source uses (see docs/permissions.md)",
                missing_permission=QUERY_ACTION,
            )
        if status == 429:
            return AzureError(
                "throttled",
                detail,
                "Cost Management kept throttling after the SDK's retries: run again later "
                "or raise max_attempts in the source",
            )
        if status == 404:
            return AzureError("invalid_config", detail, f"check the scope {scope!r} exists")
        if status == 400:
            return AzureError("error", detail, "the query was refused: see the message above")
        return AzureError("error", detail, "Azure answered with an error: run again later")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return AzureError(
            "unreachable",
            f"{where}: cannot connect ({_message(exc)})",
            "check the network, proxy and endpoint_url; the SDK retried already",
        )
    return AzureError("error", f"{where}: {type(exc).__name__}: {_message(exc)}", "")


class _StaticToken:
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


class AzureApi:
    """One CostManagementClient for a source, counting every query by type."""

    def __init__(self, source: AzureSource):
        self.source = source
        self.calls: Counter[str] = Counter()
        test_token = os.environ.get(TEST_TOKEN_ENV)
        self._credential: Any = (
            _StaticToken(test_token)
            if source.endpoint_url and test_token
            else DefaultAzureCredential(exclude_interactive_browser_credential=True)
        )
        retries = source.max_attempts - 1
        kwargs: dict[str, Any] = {
            "connection_verify": source.ca_bundle or True,
            "retry_total": retries,
            "retry_connect": retries,
            "retry_read": retries,
            "retry_status": retries,
            "api_version": API_VERSION,
        }
        if source.endpoint_url:
            kwargs["base_url"] = source.endpoint_url
        self._client = CostManagementClient(self._credential, **kwargs)

    def close(self) -> None:
        self._client.close()
        self._credential.close()

    def __enter__(self) -> AzureApi:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def query(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of one query (its REST body), nextLink's $skiptoken followed."""
        scope = self.source.scope
        params: dict[str, str] = {}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            self.calls[f"query.usage {body.get('type', '?')}"] += 1
            try:
                result = self._client.query.usage(
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
