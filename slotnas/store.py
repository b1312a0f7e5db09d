"""TrialStore: the one owner of a run's trials, kept as a journal (results.jsonl) and rebuilt by replay."""
from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import replace
from typing import Any, Dict, Iterator, List, Optional

from .trials import Arch, Trial, TrialState

log = logging.getLogger("slotnas")

JOURNAL = "results.jsonl"


class TrialStore:
    """Every trial of one run. Each change of a trial is one JSON line appended to the journal.

    A trial appears twice in the journal: RUNNING when it starts (flushed) and again when it ends
    (flushed and fsynced). Reading replays the lines in order, so the last line of a trial is its
    state; the order of the lines is the order the optimizer asked and was told, which resume
    replays. A torn or invalid line (a kill mid-write, an edited file) is skipped with a warning.
    ``run_dir=None`` keeps the trials in memory only; ``read_only`` reads a journal another process may be
    writing (a torn tail is ignored, not cut).
    """

    def __init__(self, run_dir: Optional[str] = None, read_only: bool = False) -> None:
        self.run_dir, self.read_only = run_dir, read_only
        self._events: List[Trial] = []
        self._latest: Dict[int, Trial] = {}
        self._started: Counter = Counter()  # trials per kind, kept as lines are remembered (hot path)
        self._next = 0
        self._fh: Any = None
        if run_dir is not None and os.path.isfile(self.path):
            self._load()

    @property
    def path(self) -> str:
        """The journal file."""
        return os.path.join(self.run_dir or "", JOURNAL)

    # -- reading ----------------------------------------------------------------------------------
    def _load(self) -> None:
        with open(self.path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        complete_end = len(data) if data.endswith(b"\n") else data.rfind(b"\n") + 1
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                trial = Trial.from_record(json.loads(raw.decode("utf-8")))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                where = "last line" if number >= len(lines) - 1 else "line"
                log.warning("slotnas: warning: %s %s %d skipped: torn or invalid trial record (%s)",
                            self.path, where, number, type(exc).__name__)
                continue
            self._remember(trial)
        if complete_end < len(data) and not self.read_only:  # a torn tail: cut it so the next append starts clean
            with open(self.path, "r+b") as fh:
                fh.truncate(complete_end)

    def _remember(self, trial: Trial) -> None:
        self._events.append(trial)
        if trial.index not in self._latest:
            self._started[trial.kind] += 1
            self._next = max(self._next, trial.index + 1)
        self._latest[trial.index] = trial

    def events(self) -> List[Trial]:
        """Every trial snapshot in journal order (RUNNING starts and final states), for replay."""
        return list(self._events)

    def trials(self, kind: Optional[str] = "search", states: Optional[tuple] = None) -> List[Trial]:
        """The latest state of each trial of ``kind`` (None: all kinds), by index."""
        out = [t for _, t in sorted(self._latest.items())
               if (kind is None or t.kind == kind) and (states is None or t.state in states)]
        return out

    def get(self, index: int) -> Trial:
        """The latest state of trial ``index``."""
        return self._latest[index]

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials(kind=None))

    def __len__(self) -> int:
        return len(self._latest)

    def started(self, kind: str = "search") -> int:
        """How many trials of ``kind`` were started (running, paused or ended)."""
        return self._started[kind]

    @property
    def next_index(self) -> int:
        """Index the next started trial gets."""
        return self._next

    # -- writing ----------------------------------------------------------------------------------
    def start(self, arch: Arch, worker: Optional[str] = None, fidelity: Optional[float] = None,
              kind: str = "search") -> Trial:
        """A new RUNNING trial for ``arch``, journaled before it is evaluated."""
        trial = Trial(index=self.next_index, arch=dict(arch), worker=worker, fidelity=fidelity, kind=kind)
        self._append(trial, sync=False)
        return trial

    def finish(self, trial: Trial) -> Trial:
        """Record a trial's final state (COMPLETE, FAILED or PRUNED); durable when this returns."""
        if not trial.state.finished:
            raise ValueError(f"trial {trial.index} is still RUNNING")
        self._append(trial, sync=True)
        return trial

    def report(self, trial: Trial) -> Trial:
        """Record a trial paused at a rung: RUNNING with that rung's metrics and fidelity (durable)."""
        paused = replace(trial, state=TrialState.RUNNING)
        self._append(paused, sync=True)
        return paused

    def restart(self, index: int, fidelity: float) -> Trial:
        """Trial ``index`` continues to ``fidelity``: a RUNNING line for the new job."""
        trial = replace(self._latest[index], state=TrialState.RUNNING, fidelity=fidelity, metrics={}, error=None,
                        seconds=None)
        self._append(trial, sync=False)
        return trial

    def rung_results(self, index: int) -> Dict[float, Dict[str, Any]]:
        """Metrics of trial ``index`` at each fidelity it reached (paused or final), in order."""
        return {t.fidelity: t.metrics for t in self._events
                if t.index == index and t.fidelity is not None and t.metrics}

    def add(self, arch: Arch, metrics: Dict[str, Any], kind: str, fidelity: Optional[float] = None,
            seconds: Optional[float] = None) -> Trial:
        """Record a trial that ran outside the loop (a one-shot epoch, the retrained winner) as COMPLETE."""
        trial = Trial(index=self.next_index, arch=dict(arch), kind=kind, fidelity=fidelity)
        return self.finish(trial.finish(metrics, seconds=seconds))

    def _append(self, trial: Trial, sync: bool) -> None:
        self._remember(trial)
        if self.run_dir is None:
            return
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(trial.to_record(), default=str) + "\n")
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Close the journal file (appending reopens it)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


__all__ = ["TrialStore", "TrialState", "Trial", "JOURNAL"]
