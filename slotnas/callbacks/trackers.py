"""Logging to the experiment trackers users already run, as optional callbacks (imported only when used)."""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..errors import SlotnasError
from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult
    from ..trials import Trial


def _scalars(metrics: Dict[str, Any]) -> Dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


class TensorBoardLogger(Callback):
    """``run.tensorboard: DIR``: one TensorBoard run per search in ``DIR/<run folder name>``: every trial's
    metrics (step = trial index) and the best objective so far; per one-shot epoch its metrics and each
    slot's softmaxed alphas as a histogram; at the end the hyperparameters with the winner's metrics."""

    def __init__(self, folder: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise SlotnasError("run.tensorboard: needs the tensorboard package; pip install 'slotnas[tensorboard]'") \
                from None
        self._writer_cls, self.folder = SummaryWriter, folder
        self.writer: Any = None
        self._best: Optional[float] = None

    def on_search_start(self, run: "Run") -> None:
        self.writer = self._writer_cls(os.path.join(self.folder, os.path.basename(os.path.normpath(run.run_dir))))

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        for name, value in _scalars(trial.metrics).items():
            self.writer.add_scalar(f"trial/{name}", value, trial.index)
        score = run.optimizer.trial_score(trial)
        if score > -math.inf:
            self._best = score if self._best is None else max(self._best, score)
            sign = 1 if run.optimizer.mode == "max" else -1
            self.writer.add_scalar(f"search/best_{run.optimizer.objective}", sign * self._best, trial.index)
        self.writer.flush()

    def on_epoch_end(self, run: "Run", trial: "Trial") -> None:
        import torch

        for name, value in _scalars(trial.metrics).items():
            self.writer.add_scalar(f"epoch/{name}", value, trial.index)
        for param, probs in (trial.metrics.get("alphas") or {}).items():
            self.writer.add_histogram(f"alphas/{param}", torch.tensor(probs), trial.index)
        self.writer.flush()

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        hparams = {n: v for n, v in (result.best_arch or {}).items()
                   if n in run.config.get("hparams", {}) and isinstance(v, (int, float, str, bool))}
        if hparams and result.best is not None:
            self.writer.add_hparams(hparams, {f"hparam/{k}": v for k, v in _scalars(result.best.metrics).items()},
                                    run_name=".")
        self.writer.close()
