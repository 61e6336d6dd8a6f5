"""Building blocks of the placement model's matrix: column layout, row accumulator,
money scaling. Split from `placement.model` to keep modules small."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse  # type: ignore[import-untyped]

from placement.problem import MICRO

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Layout:
    """Which workload and offer each x column stands for (x columns come first)."""

    workload: I64  # index into problem.demands
    offer: I64  # index into problem.offers
    move_usd: F64  # one-off USD when the offer is used and is not today's
    current: NDArray[np.bool_]
    quota_rows: I64  # row index of each quota, in problem.quotas order (-1: no row)

    @property
    def n_x(self) -> int:
        return len(self.workload)


class Rows:
    """Accumulates COO triplets and row bounds."""

    def __init__(self) -> None:
        self.rows: list[I64] = []
        self.cols: list[I64] = []
        self.vals: list[F64] = []
        self.lo: list[F64] = []
        self.hi: list[F64] = []
        self.count = 0

    def add(self, row: I64, col: I64, val: F64, lo: F64, hi: F64) -> None:
        """`row` is relative to the rows added in this call (0..len(lo)-1)."""
        self.rows.append(row + self.count)
        self.cols.append(col)
        self.vals.append(val)
        self.lo.append(lo)
        self.hi.append(hi)
        self.count += len(lo)

    def matrix(self, n_cols: int) -> sparse.csr_matrix:
        cat = np.concatenate
        return sparse.csr_matrix(
            (cat(self.vals), (cat(self.rows), cat(self.cols))), shape=(self.count, n_cols)
        )


def scale_money(usd: F64, money: float) -> F64:
    """USD × money; whole numbers when money is MICRO (prices are whole micro-USD)."""
    scaled = usd * money
    return np.rint(scaled) if money == MICRO else scaled


def one_row(rows: Rows, cols: I64, vals: F64, limit: float) -> None:
    rows.add(
        np.zeros(len(cols), dtype=np.int64), cols, vals, np.array([-np.inf]), np.array([limit])
    )
