"""Azurite's Blob service (from the npm registry, installed by scripts/deps-azurite.sh into
tests/azurite/node_modules) as a subprocess on a free loopback port.

Outside CI a missing Azurite skips with the reason; in CI (CI=true) it fails, since
`make test` ran the install script first. Accounts come from AZURITE_ACCOUNTS, all with
the same well-known key (KEY), so one `account_key_env` serves them all.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

AZURITE_DIR = Path(__file__).parent / "azurite"
BINARY = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented development key (devstoreaccount1); shared by our test accounts.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
KEY_ENV = "OPTIMIZER_TEST_AZURITE_KEY"
ACCOUNTS = ("stapplyone", "stapplytwo", "stapplywhole")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Azurite:
    """One running azurite-blob process (in-memory: every start is empty)."""

    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.log = tmp / f"azurite-{self.port}.log"
        env = {**os.environ, "AZURITE_ACCOUNTS": ";".join(f"{a}:{KEY}" for a in ACCOUNTS)}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(BINARY), "--inMemoryPersistence", "--blobHost", "127.0.0.1",
                 "--blobPort", str(self.port), "--skipApiVersionCheck", "--loose"],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp,
            )  # fmt: skip
        self._wait_ready()

    @property
    def endpoint(self) -> str:
        """`blob_endpoint` for the settings: Azurite addresses accounts by path."""
        return f"http://127.0.0.1:{self.port}/{{account}}"

    def _wait_ready(self) -> None:
        for _ in range(600):  # up to 60 s on a loaded machine; usually ~1 s
            if self.proc.poll() is not None:
                raise RuntimeError(f"azurite exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"azurite did not listen on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        """Killed outright (in-memory, nothing to save): SIGTERM waits for idle keep-alive
        connections to close, which takes Azurite seconds."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def require_azurite() -> None:
    if BINARY.exists():
        return
    why = f"Azurite is not installed at {BINARY}: run scripts/deps-azurite.sh (make test does)"
    if os.environ.get("CI") == "true":
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


def start_azurite(tmp: Path) -> Azurite:
    require_azurite()
    return Azurite(tmp)


@pytest.fixture(scope="session", name="azurite")
def azurite_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite for the session: tests use their own containers."""
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()
