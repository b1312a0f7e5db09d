"""ProgressBar: a tqdm bar over trials (or one-shot epochs) with the best objective so far."""
from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any, Optional

from ..trials import TrialState
from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult
    from ..trials import Trial


class ProgressBar(Callback):
    """One bar per run: finished trials out of the budget (epochs for a one-shot run); a multi-fidelity
    run also shows how many results each rung has (``rungs 1:12 3:4 9:1``), updated at every rung. A second
    line under it shows where the training in this process stands (``training: epoch 2/6, batch 5/17``),
    rewritten in place at most once a second and removed at the end."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.inner: Any = None  # the training line under the bar, made at the first status
        self.desc = "search"
        self.best = -math.inf
        self.best_value: Optional[float] = None
        self.rungs: Counter = Counter()

    def on_search_start(self, run: "Run") -> None:
        from tqdm.auto import tqdm

        one_shot = run.optimizer.kind == "gradient"
        total = getattr(run.estimator, "epochs", None) if one_shot else run.budget
        trials = run.trials()
        done = sum(1 for t in trials if t.state.finished)
        if run.scheduler is not None:
            self.rungs = Counter({rung: len(results) for rung, results in run.scheduler.results.items()})
        for trial in trials:
            self._consider(run, trial)
        self.desc = "supernet" if one_shot else "search"
        self.bar = tqdm(total=total, initial=min(done, total or done), desc=self.desc,
                        unit="epoch" if one_shot else "arch", dynamic_ncols=True)
        self._postfix(run)
        trainer = getattr(run.estimator, "trainer", None)
        if trainer is not None:  # inner status of the trial training in this process: epoch k/n, batch b/m
            trainer.status = self._status

    def _status(self, text: str) -> None:
        if self.bar is None:
            return
        if self.inner is None:
            from tqdm.auto import tqdm

            self.inner = tqdm(total=0, position=1, leave=False, bar_format="{desc}", dynamic_ncols=True)
        self.inner.set_description_str(f"  training: {text}")

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
        if self.bar is None:
            return
        postfix = {}
        if any(self.rungs.values()):
            postfix["rungs"] = " ".join(f"{rung:g}:{count}" for rung, count in sorted(self.rungs.items()) if count)
        if self.best_value is not None:
            postfix[f"best {run.optimizer.objective}"] = round(self.best_value, 3)
        if postfix:
            self.bar.set_postfix(postfix)

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        if run.scheduler is not None and trial.fidelity is not None and trial.state is not TrialState.PRUNED:
            self.rungs[trial.fidelity] += 1  # a PRUNED trial's result was counted when it paused
        self._tick(run, trial)

    def on_trial_report(self, run: "Run", trial: "Trial") -> None:
        self.rungs[trial.fidelity] += 1
        self._postfix(run)

    on_epoch_end = _tick

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        trainer = getattr(run.estimator, "trainer", None)
        if trainer is not None:
            trainer.status = None
        if self.inner is not None:
            self.inner.close()
            self.inner = None
        if self.bar is not None:
            self.bar.close()
            self.bar = None
