"""The placement problem as one sparse linear model, built with numpy in a few calls.

Why a matrix and not one solver call per coefficient: at 100k workloads the model has
millions of variables, and building it term by term through a Python binding took longer
than solving it. Here every variable and row is an array slice, and the whole model
reaches OR-Tools' model builder in one `fill_model_from_sparse_data` call, from which
HiGHS or GLOP solve it and `export_to_mps_string` writes it for auditors.

Variables, in order:

- x[w,o], one per workload × eligible offer that fits: replicas of w on o, in
  [0, replicas]; integral in the exact model, continuous in the relaxation.
- mv[w,o], only in the exact model (`integral=True`), one per x whose offer is not today's
  and costs a move: 1 when w uses o at all, so the move is charged once per offer.
  In the relaxation the cheapest mv is x / replicas, so its cost is folded into x's
  coefficient and the variable dropped: the same LP, half the size.

Rows: replicas placed (= replicas), spot share (≤ floor(cap × replicas)), spread (per
region ≤ replicas − k + 1, per zone likewise; see `placement.lp`), one per quota
(Σ vCPU × x ≤ max_vcpu), moves (Σ x / replicas ≤ max_moves, or Σ mv in the exact model)
and one-off spend, both over workloads that are not compliance moves.

Objective unit: USD over the horizon (micro-USD / 10^6), so solver tolerances apply to
numbers of a sane size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from ortools.linear_solver.python import model_builder as mb
from scipy import sparse  # type: ignore[import-untyped]

from placement.cost import unit_micro_usd
from placement.model_exact import credit_rows, exact_rows
from placement.model_rows import F64, I64, Layout, Rows, one_row, scale_money
from placement.problem import MICRO, Problem


def _columns(problem: Problem) -> tuple[Layout, F64, F64]:
    """(layout, x cost in USD without moves, replicas of each column's workload)."""
    index = {o.id: i for i, o in enumerate(problem.offers)}
    vcpu = np.array([o.vcpu for o in problem.offers], dtype=np.int64)
    mem = np.array([o.memory_gib for o in problem.offers], dtype=np.float64)
    w_parts: list[I64] = []
    o_parts: list[I64] = []
    move_parts: list[F64] = []
    cur_parts: list[NDArray[np.bool_]] = []
    for w, d in enumerate(problem.demands):
        ids = np.array([index[i] for i in d.eligible], dtype=np.int64)
        keep = (vcpu[ids] >= d.vcpu) & (mem[ids] >= d.memory_gib)  # the builder's fit rule
        cur = np.array([i == d.current_offer_id for i in d.eligible], dtype=bool)
        move = np.where(cur, 0.0, np.asarray(d.move_micro_usd, dtype=np.float64) / MICRO)
        w_parts.append(np.full(int(keep.sum()), w, dtype=np.int64))
        o_parts.append(ids[keep])
        move_parts.append(move[keep])
        cur_parts.append(cur[keep])
    empty_i = np.zeros(0, dtype=np.int64)
    workload = np.concatenate(w_parts) if w_parts else empty_i
    offer = np.concatenate(o_parts) if o_parts else empty_i
    move_usd = np.concatenate(move_parts) if move_parts else np.zeros(0)
    current = np.concatenate(cur_parts) if cur_parts else np.zeros(0, dtype=bool)
    unit = np.array([unit_micro_usd(problem, o) for o in problem.offers], dtype=np.float64)
    replicas = np.array([d.replicas for d in problem.demands], dtype=np.float64)
    layout = Layout(workload, offer, move_usd, current, np.full(len(problem.quotas), -1))
    return layout, (unit / MICRO)[offer], replicas[workload]


def _group_rows(rows: Rows, keys: I64, cols: I64, hi_of_key: F64) -> None:
    """One `≤` row per distinct key over the given columns."""
    if len(keys) == 0:
        return
    uniq, inv = np.unique(keys, return_inverse=True)
    del uniq
    n = int(inv.max()) + 1
    hi = np.zeros(n)
    hi[inv] = hi_of_key
    rows.add(inv.astype(np.int64), cols, np.ones(len(cols)), np.full(n, -np.inf), hi)


@dataclass(frozen=True)
class Arrays:
    """The model as plain arrays: columns' bounds and costs, rows' bounds, the matrix."""

    lower: F64
    upper: F64
    cost: F64
    row_lower: F64
    row_upper: F64
    matrix: sparse.csr_matrix
    integral: bool
    credit_columns: tuple[str, ...] = ()  # names of the last columns: commitment credit


def build_model(problem: Problem, integral: bool = False) -> tuple[mb.Model, Layout]:
    """The relaxation (`integral=False`) or the exact MIP of `problem`, ready to solve."""
    arrays, layout = build_arrays(problem, integral)
    model = mb.Model()  # type: ignore[no-untyped-call]
    helper: Any = model.helper  # its stubs want shapes numpy's own stubs cannot express
    helper.fill_model_from_sparse_data(
        arrays.lower, arrays.upper, arrays.cost, arrays.row_lower, arrays.row_upper, arrays.matrix
    )
    if integral:  # credit columns stay continuous: they take min(capacity, use) anyway
        for j in range(len(arrays.cost) - len(arrays.credit_columns)):
            helper.set_var_integrality(j, True)
    return model, layout


def build_arrays(
    problem: Problem, integral: bool = False, money: float = 1.0
) -> tuple[Arrays, Layout]:
    """`build_model`'s arrays. Money (objective and the one-off spend row) is in USD ×
    `money`: 1 for solving, `MICRO` for an MPS file (whole micro-USD)."""
    layout, unit, r = _columns(problem)
    n_x = layout.n_x
    w = layout.workload
    demands = problem.demands
    rows = Rows()
    cols = np.arange(n_x, dtype=np.int64)
    reps = np.array([d.replicas for d in demands], dtype=np.float64)
    rows.add(w, cols, np.ones(n_x), reps, reps)

    spot = np.array([o.is_spot for o in problem.offers], dtype=bool)[layout.offer]
    max_spot = np.array([d.max_spot_replicas for d in demands], dtype=np.float64)
    cap = _column_caps(problem, layout, r, spot, max_spot)
    sel = spot & (max_spot[w] < r)
    _group_rows(rows, w[sel], cols[sel], max_spot[w[sel]])

    place: dict[tuple[str, ...], int] = {}
    region = np.array(
        [place.setdefault((o.provider, o.region), len(place)) for o in problem.offers]
    )
    zone = np.array(
        [place.setdefault((o.provider, o.region, o.zone), len(place)) for o in problem.offers]
    )
    n_places = max(len(place), 1)
    for need, codes, zoned in (
        (np.array([d.min_regions for d in demands]), region, False),
        (np.array([d.min_zones for d in demands]), zone, True),
    ):
        sel = need[w] > 1
        if zoned:
            sel &= np.array([o.zone != "" for o in problem.offers], dtype=bool)[layout.offer]
        keys = w[sel] * n_places + codes[layout.offer[sel]]
        _group_rows(rows, keys, cols[sel], (r - need[w] + 1)[sel])

    vcpu = np.array([o.vcpu for o in problem.offers], dtype=np.float64)
    quota_rows = layout.quota_rows
    for i, q in enumerate(problem.quotas):
        covered = np.array([q.covers(o) for o in problem.offers], dtype=bool)[layout.offer]
        if covered.any():
            quota_rows[i] = rows.count
            rows.add(
                np.zeros(int(covered.sum()), dtype=np.int64),
                cols[covered],
                vcpu[layout.offer[covered]],
                np.array([-np.inf]),
                np.array([float(q.max_vcpu)]),
            )

    must = np.array([d.must_move for d in demands], dtype=bool)
    counted = ~layout.current & ~must[w]
    if not integral:
        cost = unit + np.divide(layout.move_usd, cap, out=np.zeros(n_x), where=cap > 0)
        if problem.max_moves is not None:
            idx: I64 = np.nonzero(counted)[0].astype(np.int64)
            one_row(rows, idx, 1.0 / r[idx], problem.max_moves)
        if problem.max_one_off_micro_usd is not None:
            idx = np.nonzero(counted & (layout.move_usd > 0))[0].astype(np.int64)
            vals = np.divide(
                layout.move_usd[idx], cap[idx], out=np.zeros(len(idx)), where=cap[idx] > 0
            )
            one_row(rows, idx, vals * money, problem.max_one_off_micro_usd / MICRO * money)
        extra_cost = np.zeros(0)
    else:
        cost = unit
        places = (region, zone, n_places)
        extra_cost = exact_rows(problem, layout, rows, cap, counted, places, money)

    credit_cost, credit_cap, credit_names = credit_rows(
        problem, layout, rows, n_x + len(extra_cost)
    )
    n_cols = n_x + len(extra_cost) + len(credit_cost)
    arrays = Arrays(
        np.zeros(n_cols),
        np.concatenate([cap, np.ones(len(extra_cost)), credit_cap]),
        scale_money(np.concatenate([cost, extra_cost, credit_cost]), money),
        np.concatenate(rows.lo) if rows.lo else np.zeros(0),
        np.concatenate(rows.hi) if rows.hi else np.zeros(0),
        rows.matrix(n_cols),
        integral,
        credit_names,
    )
    return arrays, layout


def _column_caps(
    problem: Problem, layout: Layout, r: F64, spot: NDArray[np.bool_], max_spot: F64
) -> F64:
    """The most replicas any feasible plan can put on each column: replicas, less the one
    replica each other required region (zone) holds, and the spot cap on spot offers.

    Why: the move charge relaxes to m ≥ x / cap. With cap = replicas, a workload spread
    over two new regions would pay half of each move in the LP but all of both in truth
    (the looseness that made rounding look 2.4% off the bound on bench instances)."""
    w = layout.workload
    demands = problem.demands
    k_region = np.array([d.min_regions for d in demands], dtype=np.float64)[w]
    k_zone = np.array([d.min_zones for d in demands], dtype=np.float64)[w]
    zoned = np.array([o.zone != "" for o in problem.offers], dtype=bool)[layout.offer]
    cap = np.minimum(r, r - k_region + 1)
    cap = np.where(zoned, np.minimum(cap, r - k_zone + 1), cap)
    cap = np.where(spot, np.minimum(cap, max_spot[w]), cap)
    return np.maximum(cap, 0.0)
