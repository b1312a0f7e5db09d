"""GPBO: Bayesian optimization with a scikit-learn Gaussian process made for architecture spaces."""
from __future__ import annotations

import functools
import math
import warnings
from typing import Any, List, Optional, Tuple

import numpy as np

from ..constraints import NonNegativeFloat, NonNegativeInt, PositiveInt
from ..params import ParamSpace
from ..trials import Trial
from .acquisition import Encoder, maximize
from .base import Arch, DiscreteOptimizer, arch_key, register_optimizer


def log_expected_improvement(mu: np.ndarray, sd: np.ndarray, best: float) -> np.ndarray:
    """log E[max(f - best, 0)] under N(mu, sd^2), accurate far below ``best`` too (where EI underflows)."""
    from scipy.special import erfcx

    sd = np.maximum(sd, 1e-9)
    z = (mu - best) / sd
    ratio = z * math.sqrt(math.pi / 2) * erfcx(-z / math.sqrt(2))  # z * Phi(z) / phi(z)
    log_phi = -0.5 * z * z - 0.5 * math.log(2 * math.pi)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.where(z > -25, np.log1p(np.maximum(ratio, -1 + 1e-15)), -2 * np.log(np.abs(z)))
    return np.log(sd) + log_phi + tail


@register_optimizer("GPBO")
class GPBO(DiscreteOptimizer):
    """Gaussian-process BO for architecture spaces: scikit-learn's GP with :class:`ArchKernel` (Matern 5/2
    on a Hamming / scaled distance with one relevance weight per parameter) plus, with ``additive``, a
    first-order :class:`AdditiveKernel` (each parameter's main effect is learned from few points; the
    Matern part is left with the interactions), fitted by maximum a posteriori, each fit starting from the
    last, and log expected improvement maximized over the discrete space by a
    pool of random and mutated architectures plus local search (:func:`acquisition.maximize`).
    Failed trials carry no value and are left out; results are fitted once per proposal.
    """

    model_based = True

    def __init__(self, space: ParamSpace, n_initial: NonNegativeInt = 10, xi: NonNegativeFloat = 0.0,
                 n_candidates: PositiveInt = 1024, n_restarts: NonNegativeInt = 0, additive: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.encoder = Encoder(self.params)
        self.n_initial, self.xi, self.n_candidates, self.n_restarts = n_initial, xi, n_candidates, n_restarts
        self.additive = additive
        self._np_rng = np.random.default_rng(self.seed)
        self._data: List[Tuple[Arch, float]] = []  # (architecture, score) of successful trials: the model's data
        self._kernel: Any = None  # the last fit's kernel: the next fit starts from its hyperparameters

    def observe(self, trial: Trial) -> None:
        score = self.trial_score(trial)
        if score > -math.inf:
            self._data.append((dict(trial.arch), score))

    def reset_model(self) -> None:
        self._data, self._kernel = [], None

    def _fit(self, x: np.ndarray, y: np.ndarray) -> Any:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, WhiteKernel

        from .kernels import AdditiveKernel, ArchKernel, map_optimizer

        kernel = self._kernel
        if kernel is None:
            kernel = ConstantKernel(1.0, (1e-2, 1e2)) * ArchKernel(np.ones(len(self.params)), self.encoder.categorical)
            if self.additive:
                kernel = kernel + ConstantKernel(1.0, (1e-2, 1e2)) * AdditiveKernel(self.encoder.categorical)
            kernel = kernel + WhiteKernel(1e-2, (1e-6, 1.0))
        optimizer = functools.partial(map_optimizer, n_weights=len(self.params))
        gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=optimizer,
                                      n_restarts_optimizer=self.n_restarts,
                                      random_state=int(self._np_rng.integers(2 ** 31)))
        with warnings.catch_warnings():  # a weight at its bound is a fine answer (an irrelevant parameter)
            warnings.simplefilter("ignore", ConvergenceWarning)
            gp.fit(x, y)
        self._kernel = gp.kernel_
        gp.kernel_ = gp.kernel_.k1  # predict the noise-free function (the fit's solve keeps the noise)
        return gp

    def propose(self) -> Optional[Arch]:
        if len(self._data) < max(2, self.n_initial):
            return self.random_arch()
        x = self.encoder.encode([arch for arch, _ in self._data])
        y = np.array([score for _, score in self._data])
        gp = self._fit(x, y)
        best = float(y.max()) + self.xi * float(y.std() or 1.0)

        def acquisition(rows: np.ndarray) -> np.ndarray:
            mu, sd = gp.predict(rows, return_std=True)
            return log_expected_improvement(mu, sd, best)

        elite = x[np.argsort(-y)[:10]]
        half = self.n_candidates // 2
        for row in maximize(acquisition, self.encoder, elite, self._np_rng, n_random=half, n_mutants=half):
            arch = self.encoder.decode(row)
            if arch_key(arch) not in self._seen:
                return arch
        return self.random_arch()
