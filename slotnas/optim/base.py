"""Optimizer interface: ``next(n)`` proposes parameter dicts, ``step(results)`` reads metrics.

Call order, as in ModularNAS Algorithm 2: ``next`` -> (estimator evaluates) -> ``step`` with the
(params, metrics) pairs -> ``next`` ... Optimizers never see the model, only the ParamSpace.
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import SlotnasError
from ..params import Categorical, Numeric, Param, ParamSpace
from ..pareto import costs
from ..registry import Registry

OPTIMIZERS = Registry("optimizer")

Arch = Dict[str, Any]
Metrics = Dict[str, Any]
Result = Tuple[Arch, Metrics]
MODES = ("max", "min")


def arch_key(arch: Arch) -> Tuple:
    """A hashable key of an architecture (its parameter values in name order)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in arch.items()))


def register_optimizer(name: str) -> Callable:
    """Decorator registering an Optimizer subclass under ``name``."""
    return OPTIMIZERS.register(name)


class Optimizer:
    """Base of discrete optimizers: de-duplication, history, objective scoring and best()."""

    def __init__(self, space: ParamSpace, objective: str = "val_acc", mode: str = "max",
                 seed: Optional[int] = None) -> None:
        if mode not in MODES:
            raise SlotnasError(f"optim.mode: {mode!r} not allowed; allowed: {', '.join(MODES)}")
        self.space = space
        self.params: List[Param] = space.discrete()
        if not self.params:
            raise SlotnasError("the search space has no Categorical or Numeric parameter to optimize")
        self.objective, self.mode = objective, mode
        self.rng = random.Random(seed)
        self.seed = seed
        self.history: List[Result] = []
        self._seen: set = set()  # proposed (pending or evaluated) architecture keys
        self._size = space.size() if all(p.size() < math.inf for p in self.params) else math.inf

    # -- interface ----------------------------------------------------------------------------
    def next(self, n: int = 1) -> List[Arch]:
        """Up to ``n`` new architectures; none re-proposed unless the space is exhausted."""
        out = []
        for _ in range(n):
            arch = self._unique(self.propose)
            if arch is None:
                break
            out.append(arch)
        return out

    def step(self, results: Sequence[Result]) -> None:
        """Record evaluated (params, metrics) pairs."""
        for arch, metrics in results:
            self._seen.add(arch_key(arch))
            self.history.append((dict(arch), dict(metrics)))
            self.observe(arch, metrics)

    def best(self) -> Optional[Result]:
        """The evaluated (params, metrics) pair with the best objective, None before any."""
        scored = [r for r in self.history if self.score(r[1]) > -math.inf]
        return max(scored, key=lambda r: self.score(r[1])) if scored else None

    # -- for subclasses -------------------------------------------------------------------------
    def propose(self) -> Optional[Arch]:
        """One candidate architecture (may be a duplicate; the base class filters)."""
        raise NotImplementedError

    def observe(self, arch: Arch, metrics: Metrics) -> None:
        """React to one evaluated architecture (default: nothing beyond history)."""

    def score(self, metrics: Metrics) -> float:
        """Objective as a number to maximize; failed or missing results score -inf."""
        cost = costs(metrics, [{"metric": self.objective, "mode": self.mode}])
        return -math.inf if cost is None else -cost[0]

    def random_arch(self) -> Arch:
        """Uniformly random values for every parameter."""
        return {p.name: p.sample(self.rng) for p in self.params}

    def mutate(self, arch: Arch, rate: Optional[float] = None) -> Arch:
        """Copy of ``arch`` with one parameter (or each with probability ``rate``) resampled to a new value."""
        child = dict(arch)
        targets = [p for p in self.params if p.size() > 1]
        if not targets:
            return child
        if rate is None:
            chosen = [self.rng.choice(targets)]
        else:
            chosen = [p for p in targets if self.rng.random() < rate] or [self.rng.choice(targets)]
        for p in chosen:
            child[p.name] = self._other_value(p, child[p.name])
        return child

    def crossover(self, mother: Arch, father: Arch) -> Arch:
        """Uniform crossover: each value from either parent with equal probability."""
        return {k: (mother if self.rng.random() < 0.5 else father)[k] for k in mother}

    def _other_value(self, param: Param, current: Any) -> Any:
        if isinstance(param, Categorical):
            options = [c for c in param.choices if c != current]
            return self.rng.choice(options)
        for _ in range(20):
            value = param.sample(self.rng)
            if value != current:
                return value
        return current

    @property
    def exhausted(self) -> bool:
        """Whether every architecture of a finite space has been proposed."""
        return len(self._seen) >= self._size

    def _unique(self, make: Callable[[], Optional[Arch]], tries: int = 50) -> Optional[Arch]:
        """First unseen architecture from ``make`` (then from random sampling); None if exhausted."""
        for attempt in range(tries + 1000):
            if self.exhausted:
                return None
            arch = make() if attempt < tries else self.random_arch()
            if arch is None:
                return None
            key = arch_key(arch)
            if key not in self._seen:
                self._seen.add(key)
                return arch
        return None


def encode(params: Sequence[Param], arch: Arch) -> List[float]:
    """Numeric feature vector: one-hot for Categorical, [0, 1]-scaled (log if set) for Numeric."""
    out: List[float] = []
    for p in params:
        value = arch[p.name]
        if isinstance(p, Categorical):
            idx = p.index(value)
            out.extend(1.0 if i == idx else 0.0 for i in range(len(p.choices)))
        elif isinstance(p, Numeric):
            lo, hi, v = (math.log(p.low), math.log(p.high), math.log(value)) if p.log else (p.low, p.high, value)
            out.append((v - lo) / (hi - lo) if hi > lo else 0.0)
    return out
