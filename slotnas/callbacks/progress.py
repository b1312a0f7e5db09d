"""ProgressBar: a tqdm bar over trials (or one-shot epochs) with the best objective so far."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult
    from ..trials import Trial


class ProgressBar(Callback):
    """One bar per run: finished trials out of the budget (epochs for a one-shot run)."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.best = -math.inf
        self.best_value: Optional[float] = None

    def on_search_start(self, run: "Run") -> None:
        from tqdm.auto import tqdm

        one_shot = run.optimizer.kind == "gradient"
        total = getattr(run.estimator, "epochs", None) if one_shot else run.budget
        trials = run.trials()
        done = sum(1 for t in trials if t.state.finished)
        for trial in trials:
            self._consider(run, trial)
        self.bar = tqdm(total=total, initial=min(done, total or done), desc="supernet" if one_shot else "search",
                        unit="epoch" if one_shot else "arch", dynamic_ncols=True)
        self._postfix(run)

    def _consider(self, run: "Run", trial: "Trial") -> None:
        score = run.optimizer.trial_score(trial)
        if score > self.best:
            self.best, self.best_value = score, trial.value(run.optimizer.objective)

    def _tick(self, run: "Run", trial: "Trial") -> None:
        self._consider(run, trial)
        if self.bar is not None:
            self.bar.update(1)
            self._postfix(run)

    def _postfix(self, run: "Run") -> None:
        if self.best_value is not None and self.bar is not None:
            self.bar.set_postfix({run.optimizer.objective: round(self.best_value, 3)})

    on_trial_complete = _tick
    on_epoch_end = _tick

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
