"""collectors.cloud_store.run_steps: one semantic for every cloud collector's kinds."""

from __future__ import annotations

from collections.abc import Callable

from collectors.cloud import SourceError
from collectors.cloud_store import run_steps


def step(log: list[str], name: str, status: str | None = None) -> Callable[[], None]:
    def run() -> None:
        log.append(name)
        if status == "bug":
            raise KeyError(name)
        if status:
            raise SourceError(status, f"{name} failed", "hint")

    return run


def test_a_denied_kind_does_not_stop_the_next_and_the_first_failure_is_kept() -> None:
    log: list[str] = []
    failure = run_steps([
        (True, step(log, "spend")), (True, step(log, "storage", "permission_denied")),
        (False, step(log, "off")), (True, step(log, "prices", "throttled")),
    ])  # fmt: skip
    assert log == ["spend", "storage", "prices"]
    assert failure is not None and failure.status == "permission_denied"


def test_lost_credentials_stop_the_run_and_a_bug_is_an_error_status() -> None:
    log: list[str] = []
    failure = run_steps([(True, step(log, "spend", "auth_failed")), (True, step(log, "vms"))])
    assert log == ["spend"] and failure is not None and failure.status == "auth_failed"
    failure = run_steps([(True, step(log, "x", "bug")), (True, step(log, "y"))])
    assert failure is not None and failure.status == "error" and "KeyError" in failure.detail
    assert log[-2:] == ["x", "y"]
    assert run_steps([(True, step(log, "ok"))]) is None
