"""The parts of the placement model beyond plain assignment: the binaries that make it
exact (moves charged once, the move budget, spread of three or more) and the credit of
commitments already bought. Split from `placement.model` to keep modules small."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from placement.model_rows import F64, I64, Layout, Rows, one_row, scale_money
from placement.problem import MICRO, Problem


def credit_rows(
    problem: Problem, layout: Layout, rows: Rows, first: int
) -> tuple[F64, F64, tuple[str, ...]]:
    """One column per commitment some eligible offer draws on: c ≤ capacity and
    c ≤ Σ use per replica × x, costing −rate × horizon (USD) per unit: the credit of
    `placement.cost`, exact because c takes min(capacity, use) at the optimum."""
    pool = np.array(
        [-1 if (i := problem.commitment_of(o.id)) is None else i for o in problem.offers],
        dtype=np.int64,
    )[layout.offer]
    costs: list[float] = []
    caps: list[float] = []
    names: list[str] = []
    for i, c in enumerate(problem.commitments):
        cols = np.nonzero(pool == i)[0].astype(np.int64)
        if len(cols) == 0:
            continue
        # Spend commitments are counted in USD per hour here (not micro-USD), so the
        # matrix keeps coefficients of a sane size for the solver.
        scale = 1.0 if c.unit == "vcpu" else 1.0 / MICRO
        use = scale * np.array(
            [c.use_per_replica(problem.offers[int(o)]) for o in layout.offer[cols]],
            dtype=np.float64,
        )
        col = first + len(costs)
        rows.add(  # c − Σ use × x ≤ 0
            np.zeros(len(cols) + 1, dtype=np.int64),
            np.concatenate([np.array([col]), cols]),
            np.concatenate([np.ones(1), -use]),
            np.array([-np.inf]),
            np.zeros(1),
        )
        costs.append(-c.rate_micro_usd * problem.horizon_hours / MICRO / scale)
        caps.append(c.capacity * scale)
        names.append(c.name)
    return np.array(costs), np.array(caps), tuple(names)


def exact_rows(
    problem: Problem,
    layout: Layout,
    rows: Rows,
    cap: F64,
    counted: NDArray[np.bool_],
    places: tuple[I64, I64, int],
    money: float,
) -> F64:
    """The binaries that make the model exactly the validator's; returns their costs.

    - mv[w,o] ∈ {0,1} per non-today offer with a move cost: x ≤ cap × mv, costing the
      move once and counting towards one-off spend;
    - moved[w] ∈ {0,1} per counted workload: x ≤ cap × moved for every non-today offer;
      Σ moved ≤ max_moves (a workload moved to two new offers is one move, as validated);
    - used[w,g] ∈ {0,1} per region (zone) of a workload asking for k ≥ 3 of them:
      used ≤ Σ x over the region, Σ used ≥ k (for k = 2 the relaxation's row is exact).
    """
    n_x = layout.n_x
    w = layout.workload
    next_col = n_x
    costs: list[F64] = []

    def linking(x_cols: I64, owner: I64, weight: F64) -> None:
        # x − weight × owner ≤ 0, one row per x column
        k = len(x_cols)
        rows.add(
            np.concatenate([np.arange(k), np.arange(k)]).astype(np.int64),
            np.concatenate([x_cols, owner]),
            np.concatenate([np.ones(k), -weight]),
            np.full(k, -np.inf),
            np.zeros(k),
        )

    moving = np.nonzero(~layout.current & (layout.move_usd > 0))[0].astype(np.int64)
    mv_cols = next_col + np.arange(len(moving), dtype=np.int64)
    next_col += len(moving)
    costs.append(layout.move_usd[moving])
    linking(moving, mv_cols, cap[moving])
    if problem.max_one_off_micro_usd is not None:
        sel = counted[moving]
        one_row(
            rows,
            mv_cols[sel],
            scale_money(layout.move_usd[moving][sel], money),
            problem.max_one_off_micro_usd / MICRO * money,
        )

    if problem.max_moves is not None:
        movable = np.nonzero(counted)[0].astype(np.int64)
        owners, inv = np.unique(w[movable], return_inverse=True)
        moved_cols = next_col + np.arange(len(owners), dtype=np.int64)
        next_col += len(owners)
        costs.append(np.zeros(len(owners)))
        linking(movable, moved_cols[inv], cap[movable])
        one_row(rows, moved_cols, np.ones(len(owners)), float(problem.max_moves))

    region, zone, n_places = places
    zoned = np.array([o.zone != "" for o in problem.offers], dtype=bool)
    for need, codes, only_zoned in (
        (np.array([d.min_regions for d in problem.demands]), region, False),
        (np.array([d.min_zones for d in problem.demands]), zone, True),
    ):
        sel = need[w] > 2
        if only_zoned:
            sel &= zoned[layout.offer]
        cols = np.nonzero(sel)[0].astype(np.int64)
        keys = w[cols] * n_places + codes[layout.offer[cols]]
        groups, inv = np.unique(keys, return_inverse=True)
        used_cols = next_col + np.arange(len(groups), dtype=np.int64)
        next_col += len(groups)
        costs.append(np.zeros(len(groups)))
        # used[g] − Σ_{x in g} x ≤ 0
        rows.add(
            np.concatenate([np.arange(len(groups)), inv]).astype(np.int64),
            np.concatenate([used_cols, cols]),
            np.concatenate([np.ones(len(groups)), -np.ones(len(cols))]),
            np.full(len(groups), -np.inf),
            np.zeros(len(groups)),
        )
        # Σ used ≥ k per workload
        owner = groups // n_places
        wl, winv = np.unique(owner, return_inverse=True)
        rows.add(
            winv.astype(np.int64),
            used_cols,
            np.ones(len(groups)),
            need[wl].astype(np.float64),
            np.full(len(wl), np.inf),
        )
    return np.concatenate(costs) if costs else np.zeros(0)
