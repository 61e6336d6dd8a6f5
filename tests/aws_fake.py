"""A local AWS for tests: moto's ThreadedMotoServer on 127.0.0.1, real boto3 against it.

`moto_server` (session-scoped) starts it once; `aws` (per test) resets its state through
POST /moto-api/reset, sets fake credentials in the environment (the SDK's own chain
finds them) and offers helpers: boto3 clients and queued Cost Explorer results.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

CE_RESULTS = "/moto-api/static/ce/cost-and-usage-results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeAws:
    def __init__(self, url: str):
        self.url = url

    def _post(self, path: str, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body or {}).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def reset(self) -> None:
        self._post("/moto-api/reset")

    def queue_ce(self, *results: dict[str, Any]) -> None:
        """Queue GetCostAndUsage responses: each distinct request takes the next one."""
        self._post(CE_RESULTS, {"results": list(results)})

    def client(self, service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=self.url)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(name="aws")
def aws_fixture(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> FakeAws:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fake = FakeAws(moto_server)
    fake.reset()
    return fake


class ThrottlingCe:
    """A Cost Explorer endpoint (JSON 1.1) that throttles the first `throttle` requests,
    then answers with an empty page: what botocore's retries must get through."""

    def __init__(self, throttle: int):
        import http.server
        import threading

        outer = self
        self.throttle = throttle
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests += 1
                body: dict[str, Any]
                if outer.requests <= outer.throttle:
                    status = 400
                    body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
                else:
                    status, body = 200, {"ResultsByTime": [], "GroupDefinitions": []}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
