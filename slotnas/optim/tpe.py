"""Tree-structured Parzen estimator (TPE): propose where good results are dense and bad ones are not."""
from __future__ import annotations

import math
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..constraints import Fraction, NonNegativeInt, PositiveFloat, PositiveInt
from ..params import Categorical, Numeric, Param, ParamSpace
from ..pareto import check_objectives, costs, pareto_order
from ..trials import Trial, TrialState
from .base import Arch, DiscreteOptimizer, arch_key, register_optimizer, scale, unscale


class Parzen:
    """One parameter's density over observed values: smoothed frequencies (Categorical) or a Gaussian
    mixture on the [0, 1]-scaled (log if set) axis with a wide prior component (Numeric)."""

    def __init__(self, param: Param, values: Sequence[Any], prior_weight: float) -> None:
        self.param = param
        if isinstance(param, Categorical):
            weights = np.full(len(param.choices), prior_weight / len(param.choices))
            for value in values:
                weights[param.index(value)] += 1.0
            self.probs = weights / weights.sum()
        else:
            xs = np.array([self._scale(v) for v in values], dtype=float)
            width = float(np.std(xs)) * len(xs) ** -0.2 if len(xs) > 1 else 0.5  # Scott's rule
            self.mus = np.append(xs, 0.5)
            self.sigmas = np.append(np.full(len(xs), min(1.0, max(width, 0.05))), 1.0)
            weights = np.append(np.ones(len(xs)), prior_weight)
            self.weights = weights / weights.sum()

    def _scale(self, value: float) -> float:
        assert isinstance(self.param, Numeric)
        return 0.5 if self.param.high <= self.param.low else scale(self.param, value)

    def _unscale(self, x: float) -> Any:
        assert isinstance(self.param, Numeric)
        return unscale(self.param, x)

    def sample(self, rng: random.Random) -> Any:
        """One value drawn from the density."""
        if isinstance(self.param, Categorical):
            return self.param.choices[rng.choices(range(len(self.probs)), weights=self.probs)[0]]
        k = rng.choices(range(len(self.weights)), weights=self.weights)[0]
        return self._unscale(rng.gauss(self.mus[k], self.sigmas[k]))

    def log_density(self, value: Any) -> float:
        """Log density (or probability) of ``value``."""
        if isinstance(self.param, Categorical):
            return float(math.log(self.probs[self.param.index(value)]))
        z = (self._scale(value) - self.mus) / self.sigmas
        return float(np.log(np.sum(self.weights * np.exp(-0.5 * z * z) / self.sigmas) + 1e-300))


@register_optimizer("TPE")
class TPE(DiscreteOptimizer):
    """TPE (Bergstra et al. 2011), one Parzen density per parameter like Optuna's default sampler.

    After ``n_initial`` random architectures the results are split into the best ``gamma`` fraction
    and the rest; ``n_candidates`` architectures are drawn from the good densities and the one with
    the highest good/bad density ratio is proposed. Failed trials carry no value and are left out.
    With two or more ``objectives`` (or a config's top-level ``objectives``) it is MOTPE (Ozaki et al.
    2020): "best" is the order of non-dominated sorting, each front's most spread-out points first.
    """

    model_based = True

    def __init__(self, space: ParamSpace, n_initial: NonNegativeInt = 10, gamma: Fraction = 0.15,
                 n_candidates: PositiveInt = 24, prior_weight: PositiveFloat = 1.0,
                 objectives: Optional[List[Dict[str, str]]] = None, **kwargs: Any) -> None:
        self.objectives = check_objectives(objectives) if objectives else None
        if self.objectives:
            kwargs.setdefault("objective", self.objectives[0]["metric"])
            kwargs.setdefault("mode", self.objectives[0]["mode"])
        super().__init__(space, **kwargs)
        from ..errors import SlotnasError

        if not 0 < gamma < 1:
            raise SlotnasError(f"optim.gamma: expected a fraction in (0, 1), got {gamma!r}")
        self.n_initial, self.gamma = n_initial, gamma
        self.n_candidates, self.prior_weight = n_candidates, prior_weight
        self._data: List[Tuple[Arch, Tuple[float, ...]]] = []  # (architecture, costs) of successful trials

    def observe(self, trial: Trial) -> None:
        if self.objectives is None:
            score = self.trial_score(trial)
            if score > -math.inf:
                self._data.append((dict(trial.arch), (-score,)))
        elif trial.state is TrialState.COMPLETE:
            vec = costs(trial.metrics, self.objectives)
            if vec is not None:
                self._data.append((dict(trial.arch), vec))

    def reset_model(self) -> None:
        self._data = []

    def _ranked(self) -> List[Arch]:
        """The successful architectures, best first (by cost, or in Pareto order)."""
        if self.objectives is None or len(self.objectives) == 1:
            return [arch for arch, _ in sorted(self._data, key=lambda d: d[1])]
        return [self._data[i][0] for i, _, _ in pareto_order([vec for _, vec in self._data])]

    def propose(self) -> Optional[Arch]:
        if len(self._data) < max(2, self.n_initial):
            return self.random_arch()
        ranked = self._ranked()
        n_good = min(len(ranked) - 1, max(1, math.ceil(self.gamma * len(ranked))))
        good, bad = ranked[:n_good], ranked[n_good:]
        densities = [(p, Parzen(p, [a[p.name] for a in good], self.prior_weight),
                      Parzen(p, [a[p.name] for a in bad], self.prior_weight)) for p in self.params]
        candidates = [{p.name: lo.sample(self.rng) for p, lo, _ in densities} for _ in range(self.n_candidates)]
        candidates = [c for c in candidates if arch_key(c) not in self._seen] or candidates

        def ratio(arch: Arch) -> float:
            return sum(lo.log_density(arch[p.name]) - hi.log_density(arch[p.name]) for p, lo, hi in densities)

        return max(candidates, key=ratio)
