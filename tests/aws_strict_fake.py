"""A moto server of its own, in a subprocess: one that enforces IAM policies (real
AccessDenied answers), and one a test can kill mid-run (a cloud that goes away).

moto checks credentials and IAM policies once INITIAL_NO_AUTH_ACTION_COUNT requests
have been served: the first three create the user, its policy and its access key.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3


@dataclass
class MotoProcess:
    url: str
    process: subprocess.Popen[bytes]
    key_id: str = "testing"
    secret: str = "testing"

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
        )

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def moto_process(policy: dict[str, Any] | None = None) -> Iterator[MotoProcess]:
    """A moto server; with `policy`, IAM is enforced and the returned credentials are
    those of a user holding only that policy."""
    port = _port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    if policy is not None:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    moto = MotoProcess(f"http://127.0.0.1:{port}", process)
    try:
        if policy is None:
            _wait(moto.url)
        else:
            _wait_port(port)
            iam = moto.client("iam")
            iam.create_user(UserName="applier")
            iam.put_user_policy(
                UserName="applier", PolicyName="apply", PolicyDocument=json.dumps(policy)
            )
            key = iam.create_access_key(UserName="applier")["AccessKey"]
            moto.key_id, moto.secret = key["AccessKeyId"], key["SecretAccessKey"]
        yield moto
    finally:
        if process.poll() is None:
            moto.kill()


def _wait_port(port: int) -> None:
    """Wait without a request: every request counts towards moto's no-auth allowance."""
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"moto did not listen on {port}")
        time.sleep(0.1)
