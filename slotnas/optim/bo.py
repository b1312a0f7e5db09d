"""Bayesian optimization with scikit-optimize: a Gaussian process and expected improvement."""
from __future__ import annotations

import math
import warnings
from typing import Any, List, Optional

from ..constraints import NonNegativeFloat, NonNegativeInt, PositiveInt
from ..params import Categorical, Numeric, ParamSpace
from ..trials import Trial
from .base import Arch, DiscreteOptimizer, register_optimizer

ACQ_FUNCS = ("EI", "PI", "LCB", "gp_hedge")


@register_optimizer("SkoptBO")
class SkoptBO(DiscreteOptimizer):
    """skopt.Optimizer over Categorical (one-hot) and Numeric dims; GP with an isotropic Matern kernel.

    One length scale instead of one per one-hot column keeps a fit at 300 points well under a
    second (the ARD default takes ~10 s here). Results are buffered and fitted once per ``next``.
    """

    model_based = True

    def __init__(self, space: ParamSpace, n_initial: NonNegativeInt = 10, acq_func: str = "EI",
                 n_points: PositiveInt = 1000, xi: NonNegativeFloat = 0.01, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        import skopt  # lazy: importing scikit-optimize costs ~1 s
        from skopt.learning import GaussianProcessRegressor
        from skopt.learning.gaussian_process.kernels import ConstantKernel, Matern

        if acq_func not in ACQ_FUNCS:
            from ..errors import SlotnasError

            raise SlotnasError(f"optim.acq_func: {acq_func!r} not allowed; allowed: {', '.join(ACQ_FUNCS)}")
        dims = []
        for p in self.params:
            if isinstance(p, Categorical):  # indices, so any hashable choice works
                dims.append(skopt.space.Categorical(list(range(len(p.choices))), name=p.name))
            elif isinstance(p, Numeric):
                cls = skopt.space.Integer if p.integer else skopt.space.Real
                dims.append(cls(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=p.name))
        kernel = ConstantKernel(1.0, (1e-2, 1e3)) * Matern(length_scale=1.0, length_scale_bounds=(1e-2, 1e2), nu=2.5)
        gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, noise="gaussian", n_restarts_optimizer=0)
        options = dict(base_estimator=gp, acq_func=acq_func, n_initial_points=n_initial, acq_optimizer="sampling",
                       acq_optimizer_kwargs={"n_points": n_points}, acq_func_kwargs={"xi": xi})
        self._new_model = lambda seed: skopt.Optimizer(dims, random_state=seed, **options) if dims else None
        self._opt = self._new_model(self.seed)
        self._buffer_x: List[List[Any]] = []
        self._buffer_y: List[float] = []

    def reset_model(self) -> None:
        self._opt = self._new_model(self.rng.randrange(2 ** 31))  # a new seed: its random points differ
        self._buffer_x, self._buffer_y = [], []

    def _to_point(self, arch: Arch) -> List[Any]:
        return [p.index(arch[p.name]) if isinstance(p, Categorical) else arch[p.name] for p in self.params]

    def _from_point(self, point: List[Any]) -> Arch:
        arch = {}
        for p, v in zip(self.params, point):
            plain = v.item() if hasattr(v, "item") else v
            arch[p.name] = p.choices[int(plain)] if isinstance(p, Categorical) else p.validate(plain)
        return arch

    def propose(self) -> Optional[Arch]:
        if not self.params:  # the one architecture of an empty space
            return {}
        if self._buffer_x:
            self._opt.tell(self._buffer_x, self._buffer_y)  # one GP fit for all new results
            self._buffer_x, self._buffer_y = [], []
        with warnings.catch_warnings():  # repeats are filtered by Optimizer._unique already
            warnings.filterwarnings("ignore", message="The objective has been evaluated at point")
            return self._from_point(self._opt.ask())

    def observe(self, trial: Trial) -> None:
        score = self.trial_score(trial)
        if score == -math.inf:
            return  # a failed architecture carries no value to regress on; it stays de-duplicated
        self._buffer_x.append(self._to_point(trial.arch))
        self._buffer_y.append(-score)  # skopt minimizes
