"""FailureGuard: show each new trial error once, stop on a run of identical failures, and refuse to
call a run fine when a configured metric never succeeded."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional, Set

from ..errors import SlotnasError
from ..trials import TrialState
from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult
    from ..trials import Trial


def error_kind(error: str) -> str:
    """The first line of an error, the part that repeats when the cause does not depend on the architecture."""
    return " ".join(error.strip().splitlines()[0].split())[:200] if error.strip() else "error"


class FailureGuard(Callback):
    """Prints each distinct trial error once (above the bar); raises after ``max_in_a_row`` trials in a row
    failed with the same error (None: never); at the end, raises if a metric failed on every trial that
    completed. Trials already finished stay in the run folder either way."""

    def __init__(self, max_in_a_row: Optional[int] = 10) -> None:
        self.max_in_a_row = max_in_a_row
        self.seen: Set[str] = set()
        self.last: Optional[str] = None
        self.in_a_row = 0

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        if trial.state is not TrialState.FAILED:
            self.last, self.in_a_row = None, 0
            return
        kind = error_kind(trial.error or "")
        if kind not in self.seen:
            self.seen.add(kind)
            from tqdm.auto import tqdm

            tqdm.write(f"slotnas: trial {trial.index} failed: {kind} (each new error is shown once; all are in "
                       "results.jsonl)", file=sys.stderr)
        self.in_a_row = self.in_a_row + 1 if kind == self.last else 1
        self.last = kind
        if self.max_in_a_row is not None and self.in_a_row >= self.max_in_a_row:
            raise SlotnasError(f"run.max_consecutive_failures: {self.in_a_row} trials in a row failed with {kind}; "
                               f"finished trials are in {run.run_dir} (raise the limit, or null for no limit)")

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        complete = [t for t in result.trials if t.state is TrialState.COMPLETE]
        errors = [key for key in (complete[0].metrics if complete else {}) if key.endswith("_error")]
        for key in errors:
            if all(key in t.metrics for t in complete):
                raise SlotnasError(f"metrics: {key[:-len('_error')]} failed on every architecture "
                                   f"({error_kind(str(complete[0].metrics[key]))}); results are in {run.run_dir}")
