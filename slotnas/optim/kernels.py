"""A Gaussian-process kernel for architecture spaces, as a scikit-learn kernel (the GP itself is sklearn's).

Categorical choices have no order, so one-hot columns under one isotropic length scale (SkoptBO) treat
every parameter as equally important and every pair of choices as equally far apart. This kernel is a
Matern 5/2 of a weighted distance with one learned weight per parameter (automatic relevance): a
parameter contributes w_d * [x_d != y_d] (categorical, Hamming) or w_d * (x_d - y_d)^2 (numeric, scaled
to [0, 1]). Optuna's GPSampler uses the same form.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
from sklearn.gaussian_process.kernels import Hyperparameter, Kernel, NormalizedKernelMixin, StationaryKernelMixin

SQRT5 = float(np.sqrt(5.0))


class ArchKernel(StationaryKernelMixin, NormalizedKernelMixin, Kernel):
    """Matern 5/2 of sum_d w_d * dist_d(x, y); ``categorical[d]`` says whether column d holds choice indices."""

    def __init__(self, weights: Sequence[float], categorical: Sequence[bool],
                 weights_bounds: Tuple[float, float] = (1e-3, 1e2)) -> None:
        self.weights = weights
        self.categorical = categorical
        self.weights_bounds = weights_bounds

    @property
    def hyperparameter_weights(self) -> Hyperparameter:
        """One relevance weight per parameter, fitted by the GP's marginal likelihood (in log space)."""
        return Hyperparameter("weights", "numeric", self.weights_bounds, len(self.weights))

    def _distances(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-parameter distances, shape (len(x), len(y), parameters)."""
        cat = np.asarray(self.categorical, dtype=bool)
        dist = np.empty((len(x), len(y), x.shape[1]))
        if cat.any():
            dist[..., cat] = x[:, None, cat] != y[None, :, cat]
        if not cat.all():
            diff = x[:, None, ~cat] - y[None, :, ~cat]
            dist[..., ~cat] = diff * diff
        return dist

    def __call__(self, X: np.ndarray, Y: Optional[np.ndarray] = None, eval_gradient: bool = False) -> Any:
        x = np.atleast_2d(X)
        if eval_gradient and Y is not None:
            raise ValueError("gradient only with Y is None")
        dist = self._distances(x, x if Y is None else np.atleast_2d(Y))
        w = np.asarray(self.weights, dtype=float)
        r2 = dist @ w
        r = np.sqrt(np.maximum(r2, 0.0))
        decay = np.exp(-SQRT5 * r)
        k = (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * decay
        if not eval_gradient:
            return k
        dk_dr2 = -5.0 / 6.0 * (1.0 + SQRT5 * r) * decay  # d k / d (r^2): finite at r = 0
        if self.hyperparameter_weights.fixed:
            return k, np.empty(k.shape + (0,))
        return k, dk_dr2[..., None] * dist * w  # d k / d log w_d

    def __repr__(self) -> str:
        return f"ArchKernel(weights=[{', '.join(f'{w:.3g}' for w in np.ravel(self.weights))}])"


class AdditiveKernel(StationaryKernelMixin, NormalizedKernelMixin, Kernel):
    """First-order additive similarity: the mean over parameters of [x_d == y_d] (categorical) or
    exp(-(x_d - y_d)^2 / 0.02) (numeric in [0, 1]); no hyperparameters (its scale is a ConstantKernel's).
    Beside ArchKernel it lets the GP learn each parameter's main effect from few points."""

    def __init__(self, categorical: Sequence[bool]) -> None:
        self.categorical = categorical

    def __call__(self, X: np.ndarray, Y: Optional[np.ndarray] = None, eval_gradient: bool = False) -> Any:
        x = np.atleast_2d(X)
        y = x if Y is None else np.atleast_2d(Y)
        cat = np.asarray(self.categorical, dtype=bool)
        k = np.zeros((len(x), len(y)))
        if cat.any():
            k += (x[:, None, cat] == y[None, :, cat]).sum(-1)
        if not cat.all():
            diff = x[:, None, ~cat] - y[None, :, ~cat]
            k += np.exp(-diff * diff / 0.02).sum(-1)
        k /= x.shape[1]
        return (k, np.empty(k.shape + (0,))) if eval_gradient else k

    def __repr__(self) -> str:
        return "AdditiveKernel()"


def log_prior(theta: np.ndarray, n_weights: Optional[int] = None) -> Tuple[float, np.ndarray]:
    """Log prior density (up to a constant) of ``constant * ArchKernel [+ constant * AdditiveKernel] + White``
    hyperparameters, given as sklearn's log-space theta [log scale, log w_1..w_d, (log scale_2,) log noise],
    and its gradient in theta.

    Relevance weights: -(0.1 / w + 0.1 w), peaked at w = 1 and keeping them away from both bounds;
    kernel scale ~ Gamma(2, 1) and noise ~ Gamma(1.1, 30) (small noise preferred). These are the
    heuristic priors Optuna's GPSampler uses; without them, maximum likelihood on a few dozen points
    over-fits the weights.
    """
    values = np.exp(theta)
    n = len(values) - 2 if n_weights is None else n_weights
    weights, noise = values[1:1 + n], values[-1]
    scales = np.concatenate([values[:1], values[1 + n:-1]])
    lp = (-(0.1 / weights + 0.1 * weights).sum() + (np.log(scales) - scales).sum()
          + (0.1 * np.log(noise) - 30.0 * noise))
    grad = np.concatenate([[1.0 - scales[0]], 0.1 / weights - 0.1 * weights, 1.0 - scales[1:],
                           [0.1 - 30.0 * noise]])
    return float(lp), grad


def map_optimizer(obj_func: Any, initial_theta: np.ndarray, bounds: np.ndarray,
                  n_weights: Optional[int] = None) -> Tuple[np.ndarray, float]:
    """An ``optimizer`` for sklearn's GaussianProcessRegressor: maximum a posteriori (marginal likelihood
    times :func:`log_prior`) instead of maximum likelihood, by L-BFGS-B within the bounds."""
    from scipy.optimize import minimize

    def negative_log_posterior(theta: np.ndarray) -> Tuple[float, np.ndarray]:
        nll, grad = obj_func(theta, eval_gradient=True)
        lp, lp_grad = log_prior(theta, n_weights)
        return nll - lp, grad - lp_grad

    result = minimize(negative_log_posterior, initial_theta, jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x, float(result.fun)
