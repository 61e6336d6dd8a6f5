"""A local Azure Cost Management for tests: an HTTPS server (trustme CA, certificate for
127.0.0.1) speaking the REST shapes of `POST {scope}/providers/Microsoft.CostManagement/
query?api-version=…`, driven by the real CostManagementClient.

Responses are built like the 2023-11-01 REST examples (native-exports/azure): columns
then positional rows, `nextLink` with a `$skiptoken` when more pages follow. Failures
(429 with Retry-After, 401, 403, …) can be queued ahead of normal answers, or made
permanent. The bearer token must be TOKEN (OPTIMIZER_AZURE_TEST_TOKEN), else 401.
"""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import trustme

TOKEN = "fake-token-for-tests"
QUERY_PATH = "/providers/Microsoft.CostManagement/query"
COLUMNS = [
    {"name": "Cost", "type": "Number"},
    {"name": "UsageDate", "type": "Number"},
    {"name": "SubscriptionId", "type": "String"},
    {"name": "ServiceName", "type": "String"},
    {"name": "Currency", "type": "String"},
]
DENIED = {
    "error": {
        "code": "AuthorizationFailed",
        "message": "The client 'c0ffee00-0000-0000-0000-000000000000' with object id "
        "'c0ffee00-0000-0000-0000-000000000000' does not have authorization to perform "
        "action 'Microsoft.CostManagement/query/action' over scope '{scope}' or the scope "
        "is invalid.",
    }
}
THROTTLED = {"error": {"code": "429", "message": "Too many requests. Please retry."}}
BAD_TOKEN = {"error": {"code": "InvalidAuthenticationToken", "message": "The access token "
                       "is invalid."}}  # fmt: skip
Failure = tuple[int, dict[str, str], dict[str, Any]]


def throttled(retry_after: str = "0") -> Failure:
    return 429, {"Retry-After": retry_after}, THROTTLED


def denied() -> Failure:
    return 403, {}, DENIED


def unauthorized() -> Failure:
    return 401, {}, BAD_TOKEN


class FakeAzure:
    def __init__(self, cert: trustme.LeafCert, ca_path: str):
        self.ca_path = ca_path
        self.pages: dict[str, list[list[list[Any]]]] = {}  # type -> pages of rows
        self.queued: list[Failure] = []
        self.always: Failure | None = None
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                status, headers, reply = outer.answer(self.path, self.headers, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- scripting ----------------------------------------------------------------------
    def set_rows(self, kind: str, rows: list[list[Any]], page_size: int = 1000) -> None:
        """The rows a query of `kind` returns, `page_size` per page (nextLink between)."""
        self.pages[kind] = [rows[i : i + page_size] for i in range(0, len(rows), page_size)]

    def calls(self, kind: str | None = None) -> int:
        return sum(1 for r in self.requests if kind is None or r["body"].get("type") == kind)

    # -- serving ------------------------------------------------------------------------
    def answer(self, raw_path: str, headers: Any, body: dict[str, Any]) -> Failure:
        url = urlsplit(raw_path)
        query = parse_qs(url.query)
        self.requests.append({"path": url.path, "query": query, "body": body})
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return unauthorized()
        if self.always is not None:
            return self.always
        if self.queued:
            return self.queued.pop(0)
        if not url.path.endswith(QUERY_PATH) or "api-version" not in query:
            return 404, {}, {"error": {"code": "NotFound", "message": url.path}}
        scope = url.path.removesuffix(QUERY_PATH)
        if body.get("timeframe") != "Custom" or body["dataset"]["granularity"] != "Daily":
            return 400, {}, {"error": {"code": "BadRequest", "message": "unexpected query"}}
        kind = str(body.get("type"))
        pages = self.pages.get(kind) or [[]]
        token = query.get("$skiptoken", [None])[0]
        index = int(base64.b64decode(token).decode().split(":")[1]) if token else 0
        next_link = None
        if index + 1 < len(pages):
            skip = base64.b64encode(f"{kind}:{index + 1}".encode()).decode()
            next_link = (f"{self.url}{url.path}?api-version={query['api-version'][0]}"
                         f"&$skiptoken={quote(skip, safe='')}")  # fmt: skip
        qid = str(uuid.uuid4())
        return (
            200,
            {},
            {
                "id": f"{scope}/providers/Microsoft.CostManagement/Query/{qid}",
                "name": qid,
                "type": "microsoft.costmanagement/Query",
                "properties": {"nextLink": next_link, "columns": COLUMNS, "rows": pages[index]},
            },
        )


@pytest.fixture(scope="session")
def azure_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("azure-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


@pytest.fixture(name="azure")
def azure_fixture(
    azure_ca: tuple[trustme.CA, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeAzure]:
    ca, path = azure_ca
    monkeypatch.setenv("OPTIMIZER_AZURE_TEST_TOKEN", TOKEN)
    fake = FakeAzure(ca.issue_cert("127.0.0.1"), path)
    try:
        yield fake
    finally:
        fake.close()
