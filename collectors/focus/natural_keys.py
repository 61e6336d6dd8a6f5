"""Natural keys for cost rows: a hash of the row's identity, plus an ordinal for twins.

A key is BLAKE2b-128 of the identifying columns, so the same row from any file or run
gets the same key and is never counted twice. Rows identical in every identifying
column within one file are all real charges; the 2nd, 3rd… get `hash(key, ordinal)`.

Finding twins needs a memory of every key seen in the file. A dict of digests costs
about 100 bytes a row (100 MB at a million rows), so the memory is a sorted numpy array
of 64-bit key prefixes instead (8 bytes a row), kept as a few sorted runs that merge
like a binary counter. A 64-bit prefix collision (about 3e-8 at a million rows) only
gives a distinct row an ordinal key: still unique, still deterministic.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

Prefixes = npt.NDArray[np.uint64]


class NaturalKeys:
    def __init__(self) -> None:
        self._runs: list[Prefixes] = []  # sorted, unique, sizes roughly doubling
        self._twins: dict[bytes, int] = {}  # digest -> times seen, only for repeated keys

    def _seen(self, prefixes: Prefixes) -> npt.NDArray[np.bool_]:
        found = np.zeros(len(prefixes), dtype=bool)
        for run in self._runs:
            pos = np.searchsorted(run, prefixes)
            pos[pos == len(run)] = 0
            found |= run[pos] == prefixes
        return found

    def _remember(self, prefixes: Prefixes) -> None:
        run = np.unique(prefixes)
        while self._runs and len(self._runs[-1]) <= len(run):
            run = np.union1d(self._runs.pop(), run)
        self._runs.append(run)

    def keys(self, material: list[bytes]) -> list[str]:
        blake = hashlib.blake2b
        digests = [blake(m, digest_size=16).digest() for m in material]
        if not digests:
            return []
        prefixes = np.frombuffer(b"".join(d[:8] for d in digests), dtype=np.uint64)
        seen_before = self._seen(prefixes)
        _, inverse, counts = np.unique(prefixes, return_inverse=True, return_counts=True)
        candidates = np.nonzero(seen_before | (counts[inverse] > 1))[0]
        out = [d.hex() for d in digests]
        for i in candidates.tolist():  # rare: only rows whose key may repeat
            d = digests[i]
            count = self._twins.get(d)
            if count is None:
                count = 1 if seen_before[i] else 0
            if count:
                out[i] = blake(d + count.to_bytes(4, "big"), digest_size=16).hexdigest()
            self._twins[d] = count + 1
        self._remember(prefixes)
        return out
