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

from tests.json11_fake import Json11Server

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


class ThrottlingCe(Json11Server):
    """A Cost Explorer endpoint (JSON 1.1) that throttles the first `throttle` requests,
    then answers with an empty page: what botocore's retries must get through."""

    def __init__(self, throttle: int):
        self.throttle = throttle
        self.requests = 0
        super().__init__()

    def answer(self, target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests += 1
        if self.requests <= self.throttle:
            return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        return 200, {"ResultsByTime": [], "GroupDefinitions": []}
