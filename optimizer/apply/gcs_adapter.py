"""Cloud Storage through google-cloud-storage: read a bucket's lifecycle rules and
objects, make one call.

The only module of the apply package that imports the Google SDK. Credentials are
Google's application default credentials (anonymous against an emulator `endpoint`).
The SDK's own retry is off (its default retries for two minutes); each request is tried
up to `max_attempts` times on 429, 5xx and connection errors, with backoff. A call that
was retried and then meets its own precondition (412) is checked: if the bucket or
object is already as wanted, the first attempt did land and the call succeeded.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import google.api_core.exceptions as gx
import google.auth.exceptions as ax
import requests.exceptions as rx
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[import-untyped, unused-ignore]

from optimizer.apply.changes import Call, LiveObject, LiveState, TieringChange, canonical
from optimizer.apply.errors import ApplyConflict, ApplyDenied, ApplyTargetMissing, ApplyUnreachable
from optimizer.apply.gcs_mapping import GcsLiveState
from optimizer.apply.settings import GcpApplyTarget
from store.errors import ApplyError

T = TypeVar("T")
PERMISSION = {
    "buckets.get": "storage.buckets.get",
    "buckets.patch": "storage.buckets.update",
    "objects.list": "storage.objects.list",
    "objects.get": "storage.objects.get",
    "objects.rewrite": "storage.objects.get + storage.objects.create + storage.objects.delete",
}
UNREACHABLE = (rx.ConnectionError, rx.Timeout, ax.TransportError, ConnectionError, TimeoutError)
TRANSIENT = (gx.TooManyRequests, gx.ServerError, *UNREACHABLE)


def _error(exc: Exception, operation: str, target: str, endpoint: str | None) -> ApplyError:
    where = f"gcs {operation} {target}"
    if isinstance(exc, gx.Forbidden | gx.Unauthorized | ax.RefreshError):
        return ApplyDenied(
            f"{type(exc).__name__}: {getattr(exc, 'message', exc)}",
            where=where,
            fix=f"grant {PERMISSION.get(operation, 'storage.' + operation)} on {target} to "
            "the apply service account (docs/apply-gcp.md)",
        )
    if isinstance(exc, gx.NotFound):
        return ApplyTargetMissing(
            f"NotFound: {exc.message}", where=where, fix="re-collect and re-plan: it is gone"
        )
    if isinstance(exc, gx.PreconditionFailed):
        return ApplyConflict(
            f"PreconditionFailed: {exc.message}",
            where=where,
            fix="someone changed it since optimizer read it: run `optimizer apply` again "
            "(it re-reads), or re-collect and re-plan",
        )
    if isinstance(exc, TRANSIENT):
        errno = re.search(r"\[Errno -?\d+\][^\"')]*", str(exc))
        why = errno.group(0).strip() if errno else str(exc)[:200]
        return ApplyUnreachable(
            f"{type(exc).__name__} reaching {endpoint or 'storage.googleapis.com'}: {why}",
            where=where,
            fix=f"check the network, GCS status, or [apply.gcp] endpoint ({endpoint or 'default'})",
        )
    if isinstance(exc, ax.DefaultCredentialsError):
        return ApplyDenied(
            str(exc),
            where=where,
            fix="set up application default credentials "
            "(`gcloud auth application-default login` or GOOGLE_APPLICATION_CREDENTIALS)",
        )
    if isinstance(exc, gx.GoogleAPICallError):
        return ApplyError(f"{type(exc).__name__}: {exc.message}", where=where, fix="see above")
    return ApplyError(f"{type(exc).__name__}: {exc}", where=where)


class GcsTarget:
    def __init__(self, settings: GcpApplyTarget):
        self.settings = settings
        try:
            if settings.endpoint:
                self.client = storage.Client(
                    project=settings.project or "optimizer",
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    client_options={"api_endpoint": settings.endpoint},
                )
            else:
                self.client = storage.Client(project=settings.project)
        except Exception as exc:
            raise _error(exc, "client", "storage.googleapis.com", settings.endpoint) from exc

    def _try(self, fn: Callable[[], T], operation: str, target: str) -> T:
        """`fn` up to max_attempts times while GCS is busy or unreachable."""
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                return fn()
            except TRANSIENT as exc:
                if attempt == self.settings.max_attempts:
                    raise _error(exc, operation, target, self.settings.endpoint) from exc
                time.sleep(min(0.25 * 2 ** (attempt - 1), 5.0))
            except Exception as exc:
                if attempt > 1 and isinstance(exc, gx.PreconditionFailed):
                    raise  # the caller checks whether an earlier attempt landed
                raise _error(exc, operation, target, self.settings.endpoint) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _bucket(self, name: str) -> Any:
        timeout = self.settings.timeout_s
        return self._try(
            lambda: self.client.get_bucket(name, retry=None, timeout=timeout), "buckets.get", name
        )

    @staticmethod
    def _rules(bucket: Any) -> tuple[dict[str, Any], ...] | None:
        """The raw `lifecycle.rule` list: the SDK's `lifecycle_rules` skips rule types
        it does not know, and those must survive our merge."""
        rules = (bucket._properties.get("lifecycle") or {}).get("rule") or []
        return tuple(dict(r) for r in rules) or None

    def read(self, change: TieringChange, max_objects: int) -> LiveState:
        bucket = self._bucket(change.bucket)
        rules, meta = self._rules(bucket), bucket.metageneration
        if change.action == "lifecycle":
            return GcsLiveState(rules, metageneration=meta)
        cutoff = datetime.now(UTC) - timedelta(days=change.after_days or 0)
        wanted = {change.current_tier, change.tier}
        objects: list[LiveObject] = []
        generations: list[tuple[str, int]] = []

        def listing() -> bool:
            objects.clear()
            generations.clear()
            blobs = self.client.list_blobs(
                change.bucket, prefix=change.prefix or None, retry=None,
                timeout=self.settings.timeout_s,
            )  # fmt: skip
            for blob in blobs:
                tier = str(blob.storage_class or bucket.storage_class or "STANDARD")
                created = blob.time_created or cutoff
                if tier not in wanted or (change.after_days and created > cutoff):
                    continue
                objects.append(LiveObject(blob.name, tier, int(blob.size or 0)))
                generations.append((blob.name, int(blob.generation)))
                if len(objects) > max_objects:
                    return True
            return False

        truncated = self._try(listing, "objects.list", change.target)
        n = max_objects if truncated else len(objects)
        return GcsLiveState(
            rules, tuple(objects[:n]), truncated, metageneration=meta,
            generations=tuple(generations[:n]),
        )  # fmt: skip

    def execute(self, call: Call) -> None:
        if call.operation == "buckets.patch":
            self._patch(call)
        elif call.operation == "objects.rewrite":
            self._rewrite(call)
        else:
            raise ApplyError(f"unknown GCS operation {call.operation}", where=call.target)

    def _patch(self, call: Call) -> None:
        p = call.params
        rules = p["body"]["lifecycle"]["rule"]

        def patch() -> None:
            bucket = self.client.bucket(p["bucket"])
            bucket.lifecycle_rules = rules
            bucket.patch(
                if_metageneration_match=p.get("ifMetagenerationMatch"),
                retry=None,
                timeout=self.settings.timeout_s,
            )

        try:
            self._try(patch, call.operation, call.target)
        except gx.PreconditionFailed as exc:
            now = self._rules(self._bucket(p["bucket"])) or ()
            if sorted(map(canonical, now)) != sorted(map(canonical, rules)):
                raise _error(exc, call.operation, call.target, self.settings.endpoint) from exc

    def _rewrite(self, call: Call) -> None:
        """Read the object (its metadata goes into the rewrite body: a rewrite body
        replaces the destination's metadata), then rewrite it with the new class."""
        p, timeout = call.params, self.settings.timeout_s
        tier, generation = p["body"]["storageClass"], p.get("ifGenerationMatch")
        bucket = self.client.bucket(p["destinationBucket"])

        def get() -> Any:
            return bucket.get_blob(p["sourceObject"], retry=None, timeout=timeout)

        blob = self._try(get, "objects.get", call.target)
        if blob is None:
            raise ApplyTargetMissing(
                "the object is gone", where=f"gcs objects.get {call.target}",
                fix="re-collect and re-plan: it was deleted since it was listed",
            )  # fmt: skip
        if generation is not None and int(blob.generation) != int(generation):
            raise ApplyConflict(
                f"generation {blob.generation}, listed as {generation}",
                where=f"gcs objects.rewrite {call.target}",
                fix="the object was overwritten since it was listed: run `optimizer apply` "
                "again (it re-reads)",
            )

        def rewrite() -> None:
            blob.update_storage_class(
                tier, if_generation_match=generation, retry=None, timeout=timeout
            )

        try:
            self._try(rewrite, call.operation, call.target)
        except gx.PreconditionFailed as exc:
            now = self._try(get, "objects.get", call.target)
            if now is None or now.storage_class != tier:
                raise _error(exc, call.operation, call.target, self.settings.endpoint) from exc
