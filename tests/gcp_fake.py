"""A local Google Cloud for tests, driven by the real SDK clients.

- One stdlib HTTP server speaks the REST shapes of the Cloud Billing Catalog
  (`GET /v1/services/<id>/skus`, camelCase JSON, `pageToken` paging), Compute Engine
  (`GET /compute/v1/projects/<p>/aggregated/{machineTypes,instances,
  instanceGroupManagers}`) and BigQuery (`POST /bigquery/v2/projects/<p>/queries`, then
  `GET …/queries/<job>` getQueryResults paging with `pageToken`). It records each request
  (BigQuery's SQL and parameters are asserted on) and can queue or fix failures.
- A gRPC server in-process serves google.monitoring.v3.MetricService/ListTimeSeries with
  the real protobuf messages (`next_page_token` paging).
Cloud Storage is gcp-storage-emulator (tests/gcp_storage.py), not faked here.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from google.cloud.monitoring_v3.types import ListTimeSeriesRequest, ListTimeSeriesResponse

Failure = tuple[int, dict[str, Any]]
COMPUTE_SERVICE = "6F81-5844-456A"
STORAGE_SERVICE = "95FF-2EF5-5EA1"


def error(status: int, message: str, reason: str = "") -> Failure:
    """A Google API error body (the shape every REST API answers with)."""
    names = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
             429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip
    errors = [{"message": message, "domain": "global", "reason": reason or names[status]}]
    return status, {"error": {"code": status, "message": message, "errors": errors,
                              "status": names[status]}}  # fmt: skip


def denied(permission: str) -> Failure:
    return error(403, f"Permission '{permission}' denied on resource (or it may not exist).",
                 "accessDenied")  # fmt: skip


def throttled() -> Failure:
    return error(429, "Quota exceeded for quota metric 'Read requests'.", "rateLimitExceeded")


def unauthorized() -> Failure:
    return error(401, "Request had invalid authentication credentials.")


BQ_SCHEMA = [
    ("day", "DATE"), ("billing_account_id", "STRING"), ("project_id", "STRING"),
    ("project_name", "STRING"), ("service_id", "STRING"), ("service_description", "STRING"),
    ("sku_id", "STRING"), ("sku_description", "STRING"), ("region", "STRING"),
    ("cost_type", "STRING"), ("currency", "STRING"), ("invoice_month", "STRING"),
    ("usage_unit", "STRING"), ("pricing_unit", "STRING"), ("cost", "NUMERIC"),
    ("usage_amount", "NUMERIC"), ("usage_amount_in_pricing_units", "NUMERIC"),
    ("credits", "STRING"),
]  # fmt: skip


def bq_value(value: Any) -> dict[str, Any]:
    return {"v": None if value is None else str(value)}


class FakeGcp:
    def __init__(self) -> None:
        self.skus: list[dict[str, Any]] = []  # Compute Engine
        self.storage_skus: list[dict[str, Any]] = []  # Cloud Storage
        self.machine_types: dict[str, list[dict[str, Any]]] = {}  # zone -> types
        self.instances: dict[str, dict[str, list[dict[str, Any]]]] = {}  # project -> zone ->
        self.igms: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.bq_rows: list[dict[str, Any]] = []
        self.bq_schema = BQ_SCHEMA
        self.page_size = 1000
        self.queued: dict[str, list[Failure]] = {}  # api -> failures answered first
        self.always: dict[str, Failure] = {}  # api -> failure answered every time
        self.requests: list[dict[str, Any]] = []
        self.series: list[Any] = []  # monitoring TimeSeries messages
        # or made on request (benchmarks): series i of series_count, pages of page_series
        self.series_factory: Callable[[int], Any] | None = None
        self.series_count = 0
        self.page_series = 100
        self.bq_page_size: int | None = None  # BigQuery's own page size (else page_size)
        self.monitoring_requests: list[ListTimeSeriesRequest] = []
        self.monitoring_failure: grpc.StatusCode | None = None  # every call fails
        # the next calls' answers: a status code fails the call, None answers normally
        self.monitoring_queued: list[grpc.StatusCode | None] = []
        self._jobs: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length", 0) or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:  # form-encoded (the OAuth token request)
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                status, reply = outer.answer(self.command, self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        handler = grpc.unary_unary_rpc_method_handler(
            self._list_time_series,
            request_deserializer=ListTimeSeriesRequest.deserialize,
            response_serializer=ListTimeSeriesResponse.serialize,
        )
        self.grpc_server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(
                "google.monitoring.v3.MetricService", {"ListTimeSeries": handler}),)
        )  # fmt: skip
        self.grpc_port = self.grpc_server.add_insecure_port("127.0.0.1:0")
        self.grpc_server.start()
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.grpc_server.stop(None)

    def endpoints(self, storage: str | None = None) -> dict[str, Any]:
        return {"catalog": self.url, "bigquery": self.url, "compute": self.url,
                "monitoring": self.grpc_target, "storage": storage or self.url}  # fmt: skip

    def calls(self, api: str) -> int:
        return sum(1 for r in self.requests if r["api"] == api)

    def bq_queries(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["api"] == "bigquery" and r["body"]]

    # -- REST -------------------------------------------------------------------------
    def answer(self, method: str, raw: str, body: Any) -> Failure:
        url = urlsplit(raw)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path == "/token":  # OAuth token endpoint: the refresh token was revoked
            self.requests.append({"api": "oauth", "method": method, "path": path,
                                  "query": query, "body": body})  # fmt: skip
            return 400, {"error": "invalid_grant",
                         "error_description": "Token has been expired or revoked."}  # fmt: skip
        api = ("catalog" if path.startswith("/v1/services") else
               "bigquery" if path.startswith("/bigquery/") else
               "compute" if path.startswith("/compute/") else "other")  # fmt: skip
        with self._lock:
            self.requests.append({"api": api, "method": method, "path": path,
                                  "query": query, "body": body})  # fmt: skip
            if api in self.always:
                return self.always[api]
            if self.queued.get(api):
                return self.queued[api].pop(0)
        token = int(query.get("pageToken") or 0)
        if api == "catalog" and path == f"/v1/services/{COMPUTE_SERVICE}/skus":
            return self._page("skus", self.skus, token)
        if api == "catalog" and path == f"/v1/services/{STORAGE_SERVICE}/skus":
            return self._page("skus", self.storage_skus, token)
        if api == "compute":
            parts = path.split("/")  # '', compute, v1, projects, P, aggregated, what
            if len(parts) == 7 and parts[5] == "aggregated":
                return self._aggregated(parts[4], parts[6], token)
        if api == "bigquery":
            return self._bigquery(method, path, body, query)
        return error(404, f"no such path {path}")

    def _page(self, key: str, items: list[Any], token: int) -> Failure:
        chunk = items[token : token + self.page_size]
        reply: dict[str, Any] = {key: chunk}
        if token + self.page_size < len(items):
            reply["nextPageToken"] = str(token + self.page_size)
        return 200, reply

    def _aggregated(self, project: str, what: str, token: int) -> Failure:
        source: dict[str, list[dict[str, Any]]] = {
            "machineTypes": self.machine_types,
            "instances": self.instances.get(project, {}),
            "instanceGroupManagers": self.igms.get(project, {}),
        }.get(what, {})
        flat = [(zone, item) for zone, items in sorted(source.items()) for item in items]
        chunk = flat[token : token + self.page_size]
        items: dict[str, dict[str, list[Any]]] = {}
        for zone, item in chunk:
            scope = zone if "/" in zone else f"zones/{zone}"  # "regions/<r>" kept as is
            items.setdefault(scope, {}).setdefault(what, []).append(item)
        reply: dict[str, Any] = {"kind": f"compute#{what}AggregatedList", "items": items}
        if token + self.page_size < len(flat):
            reply["nextPageToken"] = str(token + self.page_size)
        return 200, reply

    def _bigquery(self, method: str, path: str, body: Any, query: dict[str, str]) -> Failure:
        parts = path.split("/")  # '', bigquery, v2, projects, P, queries|jobs[, job]
        project = parts[4] if len(parts) > 4 else ""
        if len(parts) == 7 and parts[5] == "jobs" and method == "GET":  # jobs.get
            return 200, {"kind": "bigquery#job", "id": f"{project}:US.{parts[6]}",
                         "jobReference": {"projectId": project, "jobId": parts[6],
                                          "location": "US"},
                         "configuration": {"jobType": "QUERY", "query": {"query": "…"}},
                         "status": {"state": "DONE"}}  # fmt: skip
        if len(parts) < 6 or parts[5] != "queries":
            return error(404, f"no such path {path}")
        if method == "POST":
            job = f"job_{len(self._jobs)}"
            self._jobs[job] = list(self.bq_rows)
            size = int(body.get("maxResults") or self.page_size)
            return 200, self._bq_page(project, job, 0, size)
        job = parts[6]
        size = int(query.get("maxResults") or self.page_size)
        return 200, self._bq_page(project, job, int(query.get("pageToken") or 0), size)

    def _bq_page(self, project: str, job: str, start: int, size: int) -> dict[str, Any]:
        rows = self._jobs[job]
        size = min(size, self.bq_page_size or self.page_size)
        names = [n for n, _ in self.bq_schema]
        reply: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": {"projectId": project, "jobId": job, "location": "US"},
            "jobComplete": True,
            "totalRows": str(len(rows)),
            "schema": {
                "fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in self.bq_schema]
            },
            "rows": [
                {"f": [bq_value(r.get(n)) for n in names]} for r in rows[start : start + size]
            ],
        }
        if start + size < len(rows):
            reply["pageToken"] = str(start + size)
        return reply

    # -- gRPC monitoring --------------------------------------------------------------
    def _list_time_series(
        self, request: ListTimeSeriesRequest, context: grpc.ServicerContext
    ) -> ListTimeSeriesResponse:
        self.monitoring_requests.append(request)
        failure = self.monitoring_failure
        if failure is None and self.monitoring_queued:
            failure = self.monitoring_queued.pop(0)
        if failure is not None:
            context.abort(failure, "fake monitoring failure")
        start = int(request.page_token or 0)
        if self.series_factory is not None:
            end = min(start + self.page_series, self.series_count)
            chunk = [self.series_factory(i) for i in range(start, end)]
            token = str(end) if end < self.series_count else ""
            return ListTimeSeriesResponse(time_series=chunk, next_page_token=token)
        size = min(request.page_size or self.page_size, self.page_size)
        chunk = self.series[start : start + size]
        token = str(start + size) if start + size < len(self.series) else ""
        return ListTimeSeriesResponse(time_series=chunk, next_page_token=token)


@pytest.fixture(name="gcp")
def gcp_fixture() -> Iterator[FakeGcp]:
    fake = FakeGcp()
    try:
        yield fake
    finally:
        fake.close()


Builder = Callable[..., dict[str, Any]]
