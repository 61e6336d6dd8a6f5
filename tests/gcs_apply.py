"""For the GCS apply tests: gcp-storage-emulator in-process on loopback, in memory, with
the server handle so a test can stop it mid-run (its socket closes: connection refused);
and a store holding approved GCS tiering recommendations, shaped as placement/tiering
writes them (see a `recommendation` row of the demo store)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from gcp_storage_emulator.server import Server, create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[import-untyped]
from sqlalchemy.engine import Engine
from sqlmodel import Session

from optimizer.apply.changes import Call, LiveState
from optimizer.apply.target import TieringTarget
from store.models import Plan, Recommendation, StorageGroup
from tests.gcp_storage import free_port

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def add_rec(
    engine: Engine,
    bucket: str,
    *,
    prefix: str = "",
    action: str = "lifecycle",
    current: str = "STANDARD",
    tier: str = "NEARLINE",
    after_days: int | None = 30,
    known_rules: list[dict[str, Any]] | None = None,
    savings: str = "100",
    nbytes: int = 10**9,
) -> int:
    """One approved tiering recommendation and its storage group; its id."""
    name = f"gcp:{bucket}/{prefix}".rstrip("/") if prefix else f"gcp:{bucket}:{current}"
    common = {"bucket": bucket, "prefix": prefix, "provider": "gcp", "region": "us-east1",
              "bytes": nbytes, "objects": 10}  # fmt: skip
    with Session(engine) as session:
        plan = Plan(created_at=NOW, kind="tiering")
        session.add(plan)
        session.flush()
        session.add(
            StorageGroup(
                name=name, provider="gcp", account_id="acme-test", region="us-east1",
                bucket=bucket, prefix=prefix, tier=current, bytes=nbytes, objects=10,
                lifecycle_rules=known_rules,
            )
        )  # fmt: skip
        rec = Recommendation(
            plan_id=plan.id,
            fingerprint=hashlib.sha256(f"{name}->{tier}".encode()).hexdigest(),
            kind="tiering",
            subject=name,
            current={**common, "action": "stay", "after_days": None, "tier": current},
            proposed={
                **common,
                "action": action,
                "after_days": after_days,
                "tier": tier,
                "summary": f"{action} to {tier}",
            },
            monthly_savings=Decimal(savings),
            one_off_cost=Decimal("1"),
            status="approved",
            status_by="ana",
            created_at=NOW,
        )
        session.add(rec)
        session.commit()
        return int(rec.id or 0)


def rec_status(engine: Engine, rec_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT status, status_reason FROM recommendation WHERE id = :i"), {"i": rec_id}
        ).one()
        return str(row[0]), row[1]


def set_status(engine: Engine, rec_id: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE recommendation SET status = :s WHERE id = :i"),
            {"s": status, "i": rec_id},
        )


def changes(engine: Engine, rec_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT * FROM applied_change WHERE recommendation_id = :i ORDER BY id"),
                {"i": rec_id},
            )
        )


@dataclass
class Emulator:
    url: str
    server: Server
    running: bool = True

    def client(self) -> Any:
        """A plain SDK client for arranging and checking the buckets (not the adapter)."""
        return storage.Client(
            project="test",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.url},
        )

    def stop(self) -> None:
        if self.running:
            self.server.stop()
            self.running = False


@pytest.fixture(name="gcs_emulator")
def gcs_emulator_fixture() -> Iterator[Emulator]:
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    emulator = Emulator(f"http://127.0.0.1:{port}", server)
    try:
        yield emulator
    finally:
        server.wipe()
        emulator.stop()


def put(emu: Emulator, bucket: str, names: list[str], tier: str) -> dict[str, int]:
    b = emu.client().bucket(bucket)
    for name in names:
        blob = b.blob(name)
        blob.storage_class = tier
        blob.upload_from_string(b"x" * 10)
    return {n: int(b.get_blob(n).generation) for n in names}


def objects(emu: Emulator, bucket: str) -> dict[str, tuple[str, int]]:
    return {o.name: (o.storage_class, int(o.generation)) for o in emu.client().list_blobs(bucket)}


class FaultAfter:
    """The real GcsTarget; after `n` calls have been made, `fault` runs (a real one:
    the emulator stops, or an object is deleted through the SDK)."""

    def __init__(self, inner: TieringTarget, n: int, fault: Any):
        self.inner, self.n, self.fault, self.made = inner, n, fault, 0

    def read(self, change: Any, max_objects: int) -> LiveState:
        return self.inner.read(change, max_objects)

    def execute(self, call: Call) -> None:
        self.inner.execute(call)
        self.made += 1
        if self.made == self.n:
            self.fault()
