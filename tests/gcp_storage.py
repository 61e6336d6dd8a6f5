"""Cloud Storage for tests: gcp-storage-emulator in-process on loopback (in memory)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from gcp_storage_emulator.server import create_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(name="gcs")
def gcs_fixture() -> Iterator[str]:
    """The emulator's URL (the source's `endpoints.storage`); wiped after the test."""
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.wipe()
        server.stop()
