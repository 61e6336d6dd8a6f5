"""Why a change was not applied: each is an ApplyError (exit 5) with a "To fix:" line."""

from __future__ import annotations

from store.errors import ApplyError


class ApplyDenied(ApplyError):
    """The cloud refused the credentials' permission for a call."""

    kind = "permission denied"


class ApplyUnreachable(ApplyError):
    """The API could not be reached (network, endpoint down, DNS)."""

    kind = "unreachable"


class ApplyConflict(ApplyError):
    """The bucket changed since planning: applying now could clobber someone's work."""

    kind = "changed since planning"


class ApplyTargetMissing(ApplyError):
    """The bucket, container or account no longer exists."""

    kind = "not found"
