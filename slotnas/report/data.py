"""What a report shows, read from a run folder: its config, its trials (the store's journal) and its best."""
from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ..errors import SlotnasError
from ..pareto import Objective, costs, run_objectives
from ..trials import Trial, TrialState


def run_objective(cfg: Dict[str, Any]) -> Tuple[str, str]:
    """The metric and mode the run's optimizer ranked by (its options, else the config's first objective)."""
    options = cfg.get("optim", {})
    metric, mode = options.get("objective"), options.get("mode")
    if metric is None and cfg.get("objectives") and options.get("type") in ("NSGA2", "TPE"):
        metric, mode = cfg["objectives"][0]["metric"], mode or cfg["objectives"][0]["mode"]
    return metric or "val_acc", mode or "max"


@dataclass
class RunData:
    """A run folder's config, trials and derived views (best first, state counts, objectives)."""

    run_dir: str
    config: Dict[str, Any]
    trials: List[Trial]
    kind: str  # "search" (an architecture per trial) or "epoch" (a one-shot run: one trial per epoch)
    objective: str
    mode: str
    objectives: List[Objective]
    best_arch: Optional[Dict[str, Any]] = None
    states: Dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> List[Trial]:
        return [t for t in self.trials if t.state is TrialState.COMPLETE and self.score(t) is not None]

    def score(self, trial: Trial) -> Optional[float]:
        """The objective of a trial as a number to maximize (None when it has none)."""
        cost = costs(trial.metrics, [{"metric": self.objective, "mode": self.mode}])
        return None if cost is None else -cost[0]

    def ranked(self) -> List[Trial]:
        """Complete trials, best first."""
        return sorted(self.complete, key=lambda t: -self.score(t))  # type: ignore[operator]

    def running_best(self) -> List[Tuple[int, float, float]]:
        """(trial index, its objective, best so far) in trial order, in the objective's own units."""
        out, best = [], -math.inf
        sign = 1 if self.mode == "max" else -1
        for t in sorted(self.complete, key=lambda t: t.index):
            score = self.score(t)
            best = max(best, score)  # type: ignore[type-var]
            out.append((t.index, sign * score, sign * best))  # type: ignore[operator]
        return out


def run_finished(run_dir: str) -> bool:
    """Whether the run in ``run_dir`` has ended (its summary is written last)."""
    return os.path.isfile(os.path.join(run_dir, "summary.txt"))


def load_run(run_dir: str, store: Any = None) -> RunData:
    """Read a run folder (finished or still running: its journal read-only, or the running process's own
    ``store``); one-line errors for what is not a run folder."""
    from ..config import read_yaml
    from ..store import TrialStore

    if not os.path.isfile(os.path.join(run_dir, "config.yaml")):
        raise SlotnasError(f"report: {run_dir!r} is not a run folder (no config.yaml)")
    cfg = read_yaml(os.path.join(run_dir, "config.yaml"))
    if store is None:
        store = TrialStore(run_dir, read_only=True)
    epochs, search = store.trials("epoch"), store.trials("search")
    kind, trials = ("epoch", epochs) if epochs else ("search", search)
    objective, mode = run_objective(cfg)
    best = None
    if os.path.isfile(os.path.join(run_dir, "best_arch.yaml")):
        best = read_yaml(os.path.join(run_dir, "best_arch.yaml"))
    return RunData(run_dir, cfg, trials, kind, objective, mode, run_objectives(cfg, objective, mode), best,
                   dict(Counter(t.state.value for t in trials)))
