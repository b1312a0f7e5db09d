"""LiveReport: the run folder's report.html, refreshed while the search goes (throttled) and at its end."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Optional

from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult
    from ..trials import Trial


class LiveReport(Callback):
    """Rewrites ``report.html`` (atomically) after a trial or epoch when ``interval`` seconds have passed
    since the last write, and once more at the end, so a page kept open in a browser follows the run."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: Optional[float] = None

    def _write(self, run: "Run") -> None:
        from ..report import write_report

        write_report(run.run_dir, store=run.store)
        self._last = time.monotonic()

    def _maybe(self, run: "Run") -> None:
        if self._last is None or time.monotonic() - self._last >= self.interval:
            self._write(run)

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        self._maybe(run)

    def on_epoch_end(self, run: "Run", trial: "Trial") -> None:
        self._maybe(run)

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        self._write(run)
