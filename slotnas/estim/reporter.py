"""Reporter: an estimator's intermediate results per step, and whether an early-stopping rule ends the trial."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from ..schedulers import StopRule
from ..trials import Metrics


class Reporter:
    """Collects ``report(step, metrics)`` calls of one trial (Optuna's ``trial.report``) and answers
    ``should_stop()`` (Optuna's ``should_prune``) from the run's stopping rule, if it has one."""

    def __init__(self, rule: Optional[StopRule] = None) -> None:
        self.rule = rule
        self.values: Dict[int, Metrics] = {}
        self.stopped: Optional[int] = None  # the step at which the rule said stop

    def report(self, step: int, metrics: Mapping[str, Any]) -> None:
        """Record the metrics reached after ``step`` (e.g. epochs trained)."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            from ..errors import SlotnasError

            raise SlotnasError(f"Estimator.report: step must be an integer >= 1 (e.g. epochs trained), got {step!r}")
        self.values[step] = dict(metrics)
        if self.stopped is None and self.rule is not None and self.rule.stops(step, self.values[step]):
            self.stopped = step

    def should_stop(self) -> bool:
        """Whether the trial should end now (then the estimator returns its current metrics)."""
        return self.stopped is not None
