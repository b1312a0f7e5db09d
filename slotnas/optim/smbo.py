"""Sequential model-based optimization with an XGBoost surrogate."""
from __future__ import annotations

import math
from typing import Any, List, Optional

import numpy as np

from ..constraints import NonNegativeInt, PositiveFloat, PositiveInt, UnitInterval
from ..errors import SlotnasError
from ..params import ParamSpace
from ..trials import Trial
from .acquisition import Encoder, maximize
from .base import Arch, DiscreteOptimizer, arch_key, register_optimizer

ACQUISITIONS = ("random", "annealing", "local")


@register_optimizer("XGBoostSMBO")
class XGBoostSMBO(DiscreteOptimizer):
    """Fit an xgboost regressor on one-hot encoded architectures; propose the best predicted unseen one.

    ``acquisition: local`` (BANANAS-style, the default) scores random architectures and mutants of the
    best evaluated ones, then climbs from the best of them over single-parameter changes
    (:func:`acquisition.maximize`); ``random`` scores ``n_candidates`` random and mutated architectures;
    ``annealing`` walks from the best evaluated one by simulated annealing on the prediction.
    """

    model_based = True

    def __init__(self, space: ParamSpace, n_initial: NonNegativeInt = 10, n_candidates: PositiveInt = 500,
                 acquisition: str = "local", explore: UnitInterval = 0.1, n_estimators: PositiveInt = 100,
                 max_depth: PositiveInt = 4, learning_rate: PositiveFloat = 0.1, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        if acquisition not in ACQUISITIONS:
            raise SlotnasError(f"optim.acquisition: {acquisition!r} not allowed; allowed: {', '.join(ACQUISITIONS)}")
        self.n_initial, self.n_candidates = n_initial, n_candidates
        self.acquisition, self.explore = acquisition, explore
        self._xgb_args = dict(n_estimators=n_estimators, max_depth=max_depth, learning_rate=learning_rate,
                              n_jobs=1, random_state=self.seed or 0, verbosity=0)
        self.encoder = Encoder(self.params)
        self._np_rng = np.random.default_rng(self.seed)
        self._model: Any = None
        self._fitted_on = 0
        self._data: List[tuple] = []  # (encoded row, score, arch) of successful evaluations: the surrogate's data

    def observe(self, trial: Trial) -> None:
        score = self.trial_score(trial)
        if score > -math.inf:
            self._data.append((self.encoder.encode([trial.arch])[0], score, dict(trial.arch)))

    def reset_model(self) -> None:
        self._data, self._fitted_on = [], 0

    def _fit(self) -> None:
        if self._fitted_on == len(self._data):
            return
        import xgboost  # lazy: importing xgboost costs ~0.5 s

        x = self.encoder.one_hot(np.array([d[0] for d in self._data]))
        y = np.array([d[1] for d in self._data], dtype=np.float32)
        self._model = xgboost.XGBRegressor(**self._xgb_args).fit(x, y)
        self._fitted_on = len(self._data)

    def _predict_rows(self, rows: np.ndarray) -> np.ndarray:
        return self._model.predict(self.encoder.one_hot(rows))

    def _predict(self, archs: List[Arch]) -> Any:
        return self._predict_rows(self.encoder.encode(archs))

    def propose(self) -> Optional[Arch]:
        if len(self._data) < self.n_initial or self.rng.random() < self.explore:
            return self.random_arch()
        self._fit()
        ranked = sorted(self._data, key=lambda d: d[1], reverse=True)
        if self.acquisition == "annealing":
            return self._anneal()
        if self.acquisition == "local":
            elite = np.array([d[0] for d in ranked[:10]])
            half = self.n_candidates // 2
            for row in maximize(self._predict_rows, self.encoder, elite, self._np_rng, n_random=half,
                                n_mutants=half):
                arch = self.encoder.decode(row)
                if arch_key(arch) not in self._seen:
                    return arch
            return self.random_arch()
        elite_archs = [d[2] for d in ranked[:5]]
        pool = [self.random_arch() for _ in range(self.n_candidates // 2)]
        pool += [self.mutate(self.rng.choice(elite_archs)) for _ in range(self.n_candidates - len(pool))]
        pool = [a for a in pool if arch_key(a) not in self._seen] or pool
        preds = self._predict(pool)
        return pool[int(preds.argmax())]

    def _anneal(self) -> Arch:
        current = max(self._data, key=lambda d: d[1])[2]
        current_pred = float(self._predict([current])[0])
        best, best_pred = None, -math.inf
        steps = max(1, self.n_candidates // 10)
        temperature = max(abs(current_pred), 1e-3) * 0.1
        for i in range(steps):
            batch = [self.mutate(current) for _ in range(10)]
            preds = self._predict(batch)
            j = int(preds.argmax())
            cand, pred = batch[j], float(preds[j])
            t = temperature * (1 - i / steps) + 1e-9
            if pred >= current_pred or self.rng.random() < math.exp((pred - current_pred) / t):
                current, current_pred = cand, pred
            if pred > best_pred and arch_key(cand) not in self._seen:
                best, best_pred = cand, pred
        return best if best is not None else self.mutate(current)
