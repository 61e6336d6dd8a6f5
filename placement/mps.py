"""Write the exact placement model as MPS, so a plan can be audited with any solver.

The file is `placement.model.build_arrays(problem, integral=True)`: the rows the
relaxation uses plus the binaries that make it exact (see that module), in free MPS with
every number at full precision (OR-Tools' own exporter keeps 6 significant digits, which
rounds prices). Objective unit: integer MICRO-USD over the plan's horizon
(`Problem.horizon_hours`): divide by 10^6 for the USD of `optimizer plan`'s `objective`
and `lower_bound`. The one-off spend row is in micro-USD too.

Columns: `x_<workload>_<offer id>` replicas of a workload on a price offer (`price_offer.id`
in the store), then binaries `b0`, `b1`, … in the order `placement.model` adds them (one
per new offer with a move cost, charged once; one per workload counted against the change
budget; one per region or zone counted for a spread of three or more), and last one
`credit_<commitment>` per commitment already bought, continuous: the units it covers
(vCPU, or USD per hour of on-demand price for spend commitments), at a negative cost of
its rate × horizon. Rows are `r0`, `r1`, …
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

from placement.model import Arrays, build_arrays
from placement.problem import MICRO, Problem

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _name(text: str) -> str:
    """MPS names cannot hold spaces; other odd characters become `_` too."""
    return _SAFE.sub("_", text)


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def write_mps(problem: Problem, path: Path) -> int:
    """Write the model to `path`; returns the number of columns."""
    arrays, layout = build_arrays(problem, integral=True, money=MICRO)
    names = [
        _name(f"x_{problem.demands[int(w)].id}_{problem.offers[int(o)].id}")
        for w, o in zip(layout.workload, layout.offer, strict=True)
    ]
    binaries = len(arrays.cost) - layout.n_x - len(arrays.credit_columns)
    names += [f"b{j}" for j in range(binaries)]
    names += [_name(f"credit_{c}") for c in arrays.credit_columns]
    with path.open("w", encoding="utf-8") as out:
        for line in _lines(arrays, names):
            out.write(line + "\n")
    return len(names)


def _lines(a: Arrays, names: list[str]) -> Iterator[str]:
    yield "NAME optimizer-placement"
    yield "ROWS"
    yield " N cost"
    kinds = []
    for lo, hi in zip(a.row_lower, a.row_upper, strict=True):
        kinds.append("E" if lo == hi else "L" if math.isinf(lo) else "G" if math.isinf(hi) else "R")
    for i, kind in enumerate(kinds):
        yield f" {'L' if kind == 'R' else kind} r{i}"
    yield "COLUMNS"
    csc = a.matrix.tocsc()
    n_int = len(names) - len(a.credit_columns) if a.integral else 0
    for j, name in enumerate(names):
        if j == 0 and n_int:
            yield " MARKER 'MARKER' 'INTORG'"
        if a.cost[j] != 0:
            yield f" {name} cost {_num(a.cost[j])}"
        for k in range(csc.indptr[j], csc.indptr[j + 1]):
            yield f" {name} r{csc.indices[k]} {_num(csc.data[k])}"
        if j == n_int - 1:
            yield " MARKER 'MARKER' 'INTEND'"
    yield "RHS"
    for i, kind in enumerate(kinds):
        rhs = a.row_lower[i] if kind in ("E", "G") else a.row_upper[i]
        if rhs != 0:
            yield f" rhs r{i} {_num(rhs)}"
    if "R" in kinds:
        yield "RANGES"
        for i, kind in enumerate(kinds):
            if kind == "R":
                yield f" rng r{i} {_num(a.row_upper[i] - a.row_lower[i])}"
    yield "BOUNDS"
    for j, name in enumerate(names):
        yield f" LO bnd {name} {_num(a.lower[j])}"
        yield f" UP bnd {name} {_num(a.upper[j])}"
    yield "ENDATA"
