"""What a run is made of (handed to callbacks) and what it returns."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from torch import nn

from ..data import DataBundle
from ..estim.base import Estimator
from ..optim.base import Optimizer
from ..params import ParamSpace
from ..schedulers import Scheduler
from ..store import TrialStore
from ..trials import Arch, Metrics, Trial


@dataclass
class Run:
    """One search run: its config, folder, trial store and the pieces built from the config."""

    config: Dict[str, Any]
    run_dir: str
    store: TrialStore
    optimizer: Optimizer
    estimator: Estimator
    model: nn.Module
    space: ParamSpace
    data: DataBundle
    budget: int
    workers: int = 1
    threads: int = 1  # torch intra-op threads per worker
    resumed: bool = False
    scheduler: Optional[Scheduler] = None  # multi-fidelity runs: which trial runs next, at what fidelity

    @property
    def trial_kind(self) -> str:
        """The kind of trial this run's optimizer is told: 'search', or 'epoch' for one-shot runs."""
        return "epoch" if self.optimizer.kind == "gradient" else "search"

    def trials(self) -> List[Trial]:
        """The run's trials of its own kind, by index (from the store)."""
        return self.store.trials(self.trial_kind)

    def path(self, name: str) -> str:
        """Path of a file in the run folder."""
        return os.path.join(self.run_dir, name)


@dataclass
class SearchResult:
    """What a search produced: the run folder, its trials, the winner as the optimizer ranks it."""

    run_dir: str
    trials: List[Trial]
    best: Optional[Trial]  # the optimizer's winner (for a one-shot run, the last epoch's architecture)
    ranked: List[Trial]  # the scored trials, best first, by the optimizer's objective
    objective: str
    mode: str
    objectives: List[Dict[str, str]] = field(default_factory=list)
    pareto: List[Trial] = field(default_factory=list)
    final_metrics: Optional[Metrics] = None
    model: Optional[nn.Module] = field(default=None, repr=False)

    @property
    def best_arch(self) -> Arch:
        """The winning architecture."""
        return dict(self.best.arch) if self.best else {}

    @property
    def best_metrics(self) -> Metrics:
        """The winner's search metrics."""
        return dict(self.best.metrics) if self.best else {}
