"""Problems with a known optimum for bench_optim_quality.py: g(arch) = 1 at the optimum, 0 on average.

- ``categorical``: 10 parameters x 5 choices; an additive score plus 5 pairwise interactions (disjoint
  pairs, so the optimum is exact) plus Gaussian noise on what the optimizer sees.
- ``numeric``: Hartmann-6 on [0, 1]^6 (minimum -3.32237) as six Numeric parameters, plus noise.
- ``digits``: a real space (default.yaml's SlotCNN with a fifth slot, 5 slots x 4 candidates = 1024
  architectures) trained 3 epochs on digits; every architecture is trained once and its validation
  metrics kept in a table file (benchmarks/data/digits_table.json), so seeds and optimizers replay it.
  The objective is the validation loss (accuracy on 360 images ties too often to rank); g scales it from
  the table's mean to its best.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Tuple

import numpy as np

from slotnas import Categorical, Numeric, ParamSpace

Arch = Dict[str, Any]


class Problem:
    """A space, a noisy objective to maximize and the noiseless normalized g."""

    name = ""

    def space(self) -> ParamSpace:
        raise NotImplementedError

    def value(self, arch: Arch) -> float:
        """The noiseless objective (maximized)."""
        raise NotImplementedError

    def observe(self, arch: Arch, rng: np.random.Generator) -> float:
        """What the optimizer is told: the objective with noise."""
        return self.value(arch) + rng.normal(0.0, self.noise)

    def g(self, arch: Arch) -> float:
        """1 at the optimum, 0 for the average architecture."""
        return (self.value(arch) - self.mean) / (self.best - self.mean)

    noise = 0.0
    mean = 0.0
    best = 1.0


class CategoricalProblem(Problem):
    """Additive + pairwise (disjoint pairs) + noise over 10 x 5 choices."""

    name = "categorical 10x5"

    def __init__(self, seed: int = 2026, dims: int = 10, choices: int = 5, noise: float = 0.1) -> None:
        rng = np.random.default_rng(seed)
        self.dims, self.choices = dims, choices
        self.additive = rng.normal(0.0, 1.0, (dims, choices))
        self.pairs = [(2 * i, 2 * i + 1) for i in range(dims // 2)]
        self.pairwise = rng.normal(0.0, 1.0, (len(self.pairs), choices, choices))
        self.mean = float(self.additive.mean(axis=1).sum() + self.pairwise.mean(axis=(1, 2)).sum())
        self.best = float(sum((self.additive[i][:, None] + self.additive[j][None, :] + self.pairwise[k]).max()
                              for k, (i, j) in enumerate(self.pairs)))
        spread = np.sqrt((self.additive.var(axis=1)).sum() + self.pairwise.var(axis=(1, 2)).sum())
        self.noise = noise * float(spread)

    def space(self) -> ParamSpace:
        space = ParamSpace()
        for d in range(self.dims):
            space.add(Categorical([f"op{c}" for c in range(self.choices)], name=f"x{d}"))
        return space

    def value(self, arch: Arch) -> float:
        idx = [int(arch[f"x{d}"][2:]) for d in range(self.dims)]
        return float(sum(self.additive[d, idx[d]] for d in range(self.dims))
                     + sum(self.pairwise[k, idx[i], idx[j]] for k, (i, j) in enumerate(self.pairs)))


HARTMANN_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                       [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
HARTMANN_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                              [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


class NumericProblem(Problem):
    """-Hartmann-6 (maximized) on six Numeric parameters in [0, 1]."""

    name = "numeric Hartmann-6"

    def __init__(self, noise: float = 0.02) -> None:
        self.best = 3.32237
        samples = np.random.default_rng(0).random((200_000, 6))
        self.mean = float(self._values(samples).mean())
        self.noise = noise

    @staticmethod
    def _values(x: np.ndarray) -> np.ndarray:
        inner = (HARTMANN_A[None] * (x[:, None, :] - HARTMANN_P[None]) ** 2).sum(-1)
        return (HARTMANN_ALPHA[None] * np.exp(-inner)).sum(-1)

    def space(self) -> ParamSpace:
        space = ParamSpace()
        for d in range(6):
            space.add(Numeric(0.0, 1.0, name=f"x{d}"))
        return space

    def value(self, arch: Arch) -> float:
        return float(self._values(np.array([[arch[f"x{d}"] for d in range(6)]]))[0])


DIGITS_CANDIDATES = ["NC3", "SC3", "MB3E3", "IDT"]
DIGITS_LAYOUT = [[16, 1], [32, 2], [32, 1], [64, 2], [64, 1]]
DIGITS_TABLE = os.path.join(os.path.dirname(__file__), "data", "digits_table.json")


class DigitsProblem(Problem):
    """A real space trained once per architecture on digits, replayed from a table; maximizes -val_loss."""

    name = "digits table (1024 archs, -val_loss)"
    slots = len(DIGITS_LAYOUT)

    def __init__(self, path: str = DIGITS_TABLE) -> None:
        self.path = path
        self.table: Dict[str, Dict[str, float]] = {}
        if os.path.exists(path):
            with open(path) as fh:
                self.table = json.load(fh)
        self.fill()
        values = [-m["val_loss"] for m in self.table.values()]
        self.mean, self.best = float(np.mean(values)), float(np.max(values))

    def key(self, arch: Arch) -> str:
        return "-".join(arch[f"cells.{i}"] for i in range(self.slots))

    def space(self) -> ParamSpace:
        space = ParamSpace()
        for i in range(self.slots):
            space.add(Categorical(list(DIGITS_CANDIDATES), name=f"cells.{i}"))
        return space

    def fill(self) -> None:
        """Train every architecture once (a GridSearch run; ~5 min on 2 cores) and save the table."""
        size = len(DIGITS_CANDIDATES) ** self.slots
        if len(self.table) == size:
            return
        from slotnas.config import load_config
        from slotnas.runtime import run_search

        cfg = load_config(None, [f"model.layout={DIGITS_LAYOUT}", f"construct.0.candidates={DIGITS_CANDIDATES}",
                                 "optim.type=GridSearch", "estim.epochs=3", "trainer.epochs=3", f"run.budget={size}",
                                 "run.retrain_epochs=0", "run.export_onnx=false", "run.export_program=false",
                                 "run.workers=2", "run.progress=false", "run.out=/tmp/slotnas-bench-digits"])
        result = run_search(cfg)
        self.table = {self.key(t.arch): {k: float(t.metrics[k]) for k in ("val_acc", "val_loss")}
                      for t in result.trials}
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path + ".tmp", "w") as fh:
            json.dump(self.table, fh, indent=0, sort_keys=True)
        os.replace(self.path + ".tmp", self.path)

    def value(self, arch: Arch) -> float:
        return -self.table[self.key(arch)]["val_loss"]


def problems(names: Tuple[str, ...]) -> Dict[str, Problem]:
    """The named problems, built (the digits table is trained on first use)."""
    makers = {"categorical": CategoricalProblem, "numeric": NumericProblem, "digits": DigitsProblem}
    return {name: makers[name]() for name in names}
