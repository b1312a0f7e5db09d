"""Maximizing an acquisition over a discrete (or mixed) architecture space: a pool of random and mutated
architectures, then best-improvement local search from the best of them over single-parameter changes.

Used by GPBO (on expected improvement) and XGBoostSMBO (``acquisition: local``, on the prediction),
BANANAS-style: in a space of 10^18 architectures, the mutants of the best evaluated ones are where a
surrogate's optimum is found, not among random samples.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence

import numpy as np

from ..params import Categorical, Numeric, Param
from .base import Arch, scale, unscale

Score = Callable[[np.ndarray], np.ndarray]


class Encoder:
    """Architectures as rows of floats: a choice's index for Categorical, the [0, 1] axis for Numeric."""

    def __init__(self, params: Sequence[Param]) -> None:
        self.params = list(params)
        self.categorical = np.array([isinstance(p, Categorical) for p in self.params])
        self.sizes = np.array([len(p.choices) if isinstance(p, Categorical) else 0 for p in self.params])

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        """One row per architecture."""
        return np.array([[p.index(a[p.name]) if isinstance(p, Categorical) else scale(p, a[p.name])  # type: ignore
                          for p in self.params] for a in archs], dtype=float).reshape(len(archs), len(self.params))

    def one_hot(self, rows: np.ndarray) -> np.ndarray:
        """Features for a regressor: each categorical column one-hot, numeric columns as they are."""
        columns = []
        for d in range(len(self.params)):
            if self.categorical[d]:
                columns.append(rows[:, d, None] == np.arange(self.sizes[d])[None, :])
            else:
                columns.append(rows[:, d, None])
        return np.hstack(columns).astype(np.float32) if columns else np.zeros((len(rows), 0), np.float32)

    def decode(self, row: np.ndarray) -> Arch:
        """The architecture of one row."""
        arch: Dict[str, Any] = {}
        for p, x in zip(self.params, row):
            arch[p.name] = p.choices[int(x)] if isinstance(p, Categorical) else unscale(p, x)  # type: ignore
        return arch

    def random(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniformly random rows."""
        rows = rng.random((n, len(self.params)))
        cat = self.categorical
        rows[:, cat] = np.floor(rows[:, cat] * self.sizes[cat])
        return rows

    def neighbours(self, row: np.ndarray, steps: Sequence[float] = (0.2, 0.05, 0.01)) -> np.ndarray:
        """Every row one categorical change away, and per numeric parameter a compass move up and down
        by each of ``steps`` (of its [0, 1] axis), so that local search also converges on numbers."""
        out: List[np.ndarray] = []
        for d, p in enumerate(self.params):
            if isinstance(p, Categorical):
                values = [v for v in range(int(self.sizes[d])) if v != row[d]]
            elif isinstance(p, Numeric):
                values = [float(np.clip(row[d] + sign * step, 0.0, 1.0)) for step in steps for sign in (1, -1)]
                values = [v for v in values if v != row[d]]
            else:
                values = []
            for v in values:
                moved = row.copy()
                moved[d] = v
                out.append(moved)
        return np.array(out).reshape(len(out), len(self.params))

    def mutants(self, rows: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` copies of random ``rows`` with one or two parameters resampled (BANANAS's mutation)."""
        parents = rows[rng.integers(len(rows), size=n)].copy()
        fresh = self.random(rng, n)
        for i in range(n):
            for d in rng.choice(len(self.params), size=rng.integers(1, 3), replace=False):
                parents[i, d] = fresh[i, d]
        return parents


def maximize(score: Score, encoder: Encoder, elite: np.ndarray, rng: np.random.Generator, n_random: int = 512,
             n_mutants: int = 512, n_starts: int = 10, max_steps: int = 50) -> np.ndarray:
    """Rows ordered by ``score`` (best first): the pool, then local search from its ``n_starts`` best
    rows (each step to the best neighbour until none improves). ``elite`` are rows to mutate from."""
    pool = encoder.random(rng, n_random)
    if len(elite):  # the best evaluated rows themselves are starting points too
        pool = np.vstack([pool, elite, encoder.mutants(elite, rng, n_mutants)])
    values = score(pool)
    rows, scores = [pool], [values]
    for start in np.argsort(-values)[:n_starts]:
        current, current_score = pool[start], values[start]
        for _ in range(max_steps):
            near = encoder.neighbours(current)
            near_scores = score(near)
            rows.append(near)
            scores.append(near_scores)
            best = int(np.argmax(near_scores))
            if near_scores[best] <= current_score:
                break
            current, current_score = near[best], near_scores[best]
    all_rows, all_scores = np.vstack(rows), np.concatenate(scores)
    return all_rows[np.argsort(-all_scores, kind="stable")]
