"""The only module that imports google.*: clients, paging, retries, call counts, errors.

Credentials are application default credentials (google.auth.default); nothing here
reads, stores, prints or logs them. With endpoint overrides (tests, local fakes) the
clients use AnonymousCredentials. Pages are fetched one call at a time with the SDK's
own retry turned off, so `max_attempts` means what it says: 429, 5xx and connection
errors are retried with exponential backoff; what still fails becomes a `GcpError`
with one of collectors.cloud.STATUSES, a hint and, for 403, the missing permission.
Every API call (page) is counted by method.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

import google.auth
import grpc  # type: ignore[import-untyped]
import requests
from google.api_core import exceptions as gx
from google.api_core.client_options import ClientOptions
from google.api_core.retry import Retry
from google.auth import exceptions as ga
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import bigquery, billing_v1, compute_v1, monitoring_v3
from google.cloud.monitoring_v3.services.metric_service.transports import (
    MetricServiceGrpcTransport,
)
from google.cloud.storage import Client as StorageClient  # type: ignore[import-untyped]

from collectors.cloud import SourceError
from collectors.gcp.settings import GcpSource

T = TypeVar("T")
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
COMPUTE_SERVICE = "services/6F81-5844-456A"
STORAGE_SERVICE = "services/95FF-2EF5-5EA1"
CPU_METRIC_TYPE = "compute.googleapis.com/instance/cpu/utilization"
ADC_HINT = (
    "run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS "
    "to a service account key file, or run where workload identity / the metadata server "
    "provides credentials"
)
# API method (as counted) -> the IAM permission it needs
PERMISSION = {
    "cloudbilling.services.skus.list": "serviceusage.services.use (Cloud Billing API enabled)",
    "compute.machineTypes.aggregatedList": "compute.machineTypes.list",
    "compute.instances.aggregatedList": "compute.instances.list",
    "compute.instanceGroupManagers.aggregatedList": "compute.instanceGroupManagers.list",
    "bigquery.jobs.query": "bigquery.jobs.create",
    "bigquery.jobs.getQueryResults": "bigquery.tables.getData",
    "monitoring.timeSeries.list": "monitoring.timeSeries.list",
    "storage.buckets.list": "storage.buckets.list",
    "storage.objects.list": "storage.objects.list",
}
NAMED = re.compile(r"[Pp]ermission '?([a-z]+\.[A-Za-z]+\.[A-Za-z]+)'?")
RETRYABLE = (gx.TooManyRequests, gx.ResourceExhausted, gx.ServerError, requests.ConnectionError)
NO_RETRY = Retry(predicate=lambda exc: False)


def first_page(method: Callable[..., Any], request: Any) -> Callable[[], Any]:
    """One page of a GAPIC list call (the pager's first response), SDK retry off."""
    return lambda: next(iter(method(request=request, retry=NO_RETRY).pages))


def _listed(method: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
    return list(method(*args, **kwargs))


class GcpError(SourceError):
    """A call that failed after the retries, mapped to a source status."""


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())[:300]


def map_error(exc: BaseException, method: str) -> GcpError:
    """Map an exception raised by API `method` to a status, a hint and a permission."""
    if isinstance(exc, ga.DefaultCredentialsError):
        return GcpError("auth_failed", f"{method}: no application default credentials", ADC_HINT)
    if isinstance(exc, ga.RefreshError):
        return GcpError(
            "auth_failed", f"{method}: credentials expired or revoked ({_message(exc)})", ADC_HINT
        )
    if isinstance(exc, ga.TransportError):
        return GcpError(
            "unreachable", f"{method}: cannot reach the token endpoint ({_message(exc)})",
            "check the network and proxy",
        )  # fmt: skip
    where = f"{method}: {_message(exc)}"
    if isinstance(exc, gx.Unauthenticated):
        return GcpError("auth_failed", where, "Google refused the credentials: " + ADC_HINT)
    if isinstance(exc, gx.Forbidden | gx.PermissionDenied):
        reasons = {str(e.get("reason")) for e in exc.errors if isinstance(e, dict)}
        if reasons & {"rateLimitExceeded", "quotaExceeded"}:
            return _throttled(where)
        named = NAMED.search(_message(exc))
        permission = named.group(1) if named else PERMISSION.get(method, method)
        return GcpError(
            "permission_denied",
            where,
            f"grant {permission} to the identity this source uses (see docs/permissions.md)",
            missing_permission=permission,
        )
    if isinstance(exc, gx.TooManyRequests | gx.ResourceExhausted):
        return _throttled(where)
    if isinstance(exc, gx.NotFound):
        return GcpError("invalid_config", where, "check the project ids and bigquery_table")
    if isinstance(exc, gx.BadRequest | gx.InvalidArgument):
        return GcpError("error", where, "check bigquery_table and bigquery_kind")
    if isinstance(exc, requests.ConnectionError | gx.ServiceUnavailable | gx.RetryError):
        return GcpError(
            "unreachable", where, "check the network, proxy and endpoints; retried already"
        )
    if isinstance(exc, gx.GoogleAPICallError):
        return GcpError("error", where, "see the Google error above")
    return GcpError("error", f"{method}: {type(exc).__name__}: {exc}", "run with --debug")


def _throttled(where: str) -> GcpError:
    return GcpError(
        "throttled", where, "Google kept throttling: run again later or raise max_attempts"
    )


class GcpApi:
    """The SDK clients of one source, built lazily; every page counted by method."""

    def __init__(self, source: GcpSource):
        self.source = source
        self.calls: Counter[str] = Counter()
        self._credentials: Credentials | None = None
        self._clients: dict[str, Any] = {}

    # -- plumbing ---------------------------------------------------------------------
    def credentials(self) -> Credentials:
        if self._credentials is None:
            if self.source.endpoints.any():
                self._credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
            else:
                try:
                    self._credentials, _ = google.auth.default(scopes=SCOPES)
                except ga.DefaultCredentialsError as exc:
                    raise map_error(exc, "google.auth.default") from None
        return self._credentials

    def _options(self, api: str) -> ClientOptions | None:
        url = getattr(self.source.endpoints, api)
        return None if url is None else ClientOptions(api_endpoint=url)

    def client(self, api: str) -> Any:
        if api not in self._clients:
            creds = self.credentials()
            if api == "catalog":
                made: Any = billing_v1.CloudCatalogClient(
                    transport="rest", credentials=creds, client_options=self._options(api)
                )
            elif api == "bigquery":
                made = bigquery.Client(
                    project=self.source.bigquery_project, credentials=creds,
                    client_options=self._options(api),
                )  # fmt: skip
            elif api == "monitoring":
                target = self.source.endpoints.monitoring
                transport = (
                    MetricServiceGrpcTransport(channel=grpc.insecure_channel(target))
                    if target is not None
                    else None
                )
                made = monitoring_v3.MetricServiceClient(
                    credentials=None if transport else creds, transport=transport
                )
            elif api == "storage":
                made = StorageClient(
                    project=(self.source.projects or ["-"])[0], credentials=creds,
                    client_options=self._options(api),
                )  # fmt: skip
            else:
                kind = {"machineTypes": compute_v1.MachineTypesClient,
                        "instances": compute_v1.InstancesClient,
                        "igms": compute_v1.InstanceGroupManagersClient}[api]  # fmt: skip
                made = kind(
                    transport="rest", credentials=creds, client_options=self._options("compute")
                )
            self._clients[api] = made
        return self._clients[api]

    def call(self, method: str, fn: Callable[[], T]) -> T:
        """One API call, retried on 429 (and BigQuery's 403 rateLimitExceeded), 5xx and
        connection errors up to max_attempts, with exponential backoff."""
        attempts = self.source.max_attempts
        for attempt in range(attempts):
            self.calls[method] += 1
            try:
                return fn()
            except GcpError:
                raise
            except Exception as exc:
                error = map_error(exc, method)
                again = isinstance(exc, RETRYABLE) or error.status == "throttled"
                if not again or attempt + 1 >= attempts:
                    raise error from None
                time.sleep(self.source.retry_seconds * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for client in self._clients.values():
            transport = getattr(client, "transport", None)
            if transport is not None and hasattr(transport, "close"):
                transport.close()
            elif hasattr(client, "close"):
                client.close()
        self._clients.clear()

    # -- the calls the collector makes ------------------------------------------------
    def skus(self, service: str = COMPUTE_SERVICE) -> Iterator[dict[str, Any]]:
        """Every SKU of one service (Compute Engine by default) of the public catalog,
        in USD."""
        client = self.client("catalog")
        token = ""
        while True:
            request = {"parent": service, "currency_code": "USD", "page_token": token}
            page = self.call(
                "cloudbilling.services.skus.list",
                first_page(client.list_skus, request),
            )
            for sku in page.skus:
                yield type(sku).to_dict(sku)
            token = page.next_page_token
            if not token:
                return

    def _aggregated(self, api: str, method: str, project: str, key: str) -> list[dict[str, Any]]:
        client = self.client(api)
        out: list[dict[str, Any]] = []
        token = ""
        while True:
            request = {"project": project, "page_token": token}
            page = self.call(
                method,
                first_page(client.aggregated_list, request),
            )
            for scope, scoped in page.items.items():
                for item in getattr(scoped, key):
                    row = type(item).to_dict(item)
                    row.setdefault("zone", scope.removeprefix("zones/"))
                    out.append(row)
            token = page.next_page_token
            if not token:
                return out

    def machine_types(self, project: str) -> list[dict[str, Any]]:
        return self._aggregated(
            "machineTypes", "compute.machineTypes.aggregatedList", project, "machine_types"
        )

    def instances(self, project: str) -> list[dict[str, Any]]:
        return self._aggregated(
            "instances", "compute.instances.aggregatedList", project, "instances"
        )

    def instance_group_managers(self, project: str) -> list[dict[str, Any]]:
        return self._aggregated(
            "igms", "compute.instanceGroupManagers.aggregatedList", project,
            "instance_group_managers",
        )  # fmt: skip

    def query(
        self, sql: str, params: list[tuple[str, str, Any]], page_size: int = 10_000
    ) -> list[dict[str, Any]]:
        """Rows of one parametrised query: jobs.query, then getQueryResults pages. A
        retry re-runs the whole query (a failed page cannot be resumed safely); the
        query aggregates, so its rows are few enough to hold."""
        client = self.client("bigquery")
        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter(n, t, v) for n, t, v in params],
            use_legacy_sql=False,
        )

        def run() -> list[dict[str, Any]]:
            rows = client.query_and_wait(
                sql, job_config=config, location=self.source.bigquery_location,
                retry=NO_RETRY, job_retry=None, page_size=page_size, wait_timeout=600,
            )  # fmt: skip
            out: list[dict[str, Any]] = []
            for n, page in enumerate(rows.pages):
                if n:  # the first page came with jobs.query
                    self.calls["bigquery.jobs.getQueryResults"] += 1
                out.extend(dict(row.items()) for row in page)
            return out

        return self.call("bigquery.jobs.query", run)

    def cpu_series(self, project: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Hourly mean CPU utilization (fraction 0-1) of every instance of `project`."""
        client = self.client("monitoring")
        token = ""
        while True:
            request = monitoring_v3.ListTimeSeriesRequest(
                name=f"projects/{project}",
                filter=f'metric.type = "{CPU_METRIC_TYPE}"',
                interval=monitoring_v3.TimeInterval(start_time=start, end_time=end),
                aggregation=monitoring_v3.Aggregation(
                    alignment_period={"seconds": 3600},
                    per_series_aligner=monitoring_v3.Aggregation.Aligner.ALIGN_MEAN,
                ),
                view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
                page_token=token,
            )
            page = self.call(
                "monitoring.timeSeries.list",
                first_page(client.list_time_series, request),
            )
            for ts in page.time_series:
                yield {
                    "resource": dict(ts.resource.labels),
                    "metric": dict(ts.metric.labels),
                    "points": [(p.interval.end_time, p.value.double_value) for p in ts.points],
                }
            token = page.next_page_token
            if not token:
                return

    def buckets(self) -> list[dict[str, Any]]:
        """Every bucket of each project: name, location, class, lifecycle rules."""
        client = self.client("storage")
        out: list[dict[str, Any]] = []
        for project in self.source.projects:
            listed = self.call(
                "storage.buckets.list",
                partial(_listed, client.list_buckets, project=project, retry=None),
            )
            for b in listed:
                out.append({"name": b.name, "project": project, "location": b.location,
                            "storage_class": b.storage_class,
                            "lifecycle_rules": _raw_rules(b)})  # fmt: skip
        return out

    def objects(self, bucket: str) -> list[dict[str, Any]]:
        client = self.client("storage")
        blobs = self.call(
            "storage.objects.list", lambda: list(client.list_blobs(bucket, retry=None))
        )
        return [{"size": b.size or 0, "storage_class": b.storage_class,
                 "updated": b.updated or b.time_created} for b in blobs]  # fmt: skip


def day_param(name: str, day: date) -> tuple[str, str, Any]:
    return name, "DATE", day


def _raw_rules(bucket: Any) -> list[dict[str, Any]]:
    """The bucket's lifecycle rules as the JSON API sent them: the SDK's
    `lifecycle_rules` drops rule types it does not know (with a warning), and apply
    compares these rules with the live ones (optimizer/apply/gcs_mapping.py)."""
    lifecycle = (bucket._properties or {}).get("lifecycle") or {}
    return [dict(r) for r in lifecycle.get("rule") or []]
