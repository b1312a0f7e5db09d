"""The trial record: one evaluation of one architecture, with its state (the unit the store owns)."""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Optional, Tuple

Arch = Dict[str, Any]
Metrics = Dict[str, Any]

KINDS = ("search", "epoch", "retrain")  # a proposed architecture, a one-shot epoch, the retrained winner


class TrialState(str, enum.Enum):
    """Life cycle of a trial: RUNNING until it ends COMPLETE, FAILED or PRUNED."""

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    PRUNED = "PRUNED"

    @property
    def finished(self) -> bool:
        """Whether the trial has ended (anything but RUNNING)."""
        return self is not TrialState.RUNNING


def arch_key(arch: Arch) -> Tuple:
    """A hashable key of an architecture (its parameter values in name order)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in arch.items()))


def plain(value: Any) -> Any:
    """``value`` with tensors / numpy scalars turned into Python numbers and tuples into lists (JSON-ready)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if callable(value) and hasattr(value, "__module__") and hasattr(value, "__qualname__"):
        return f"{value.__module__}:{value.__qualname__}"  # a function given in Python, as a config names it
    return value


@dataclass(frozen=True)
class Trial:
    """One architecture's evaluation: what was asked, what came back, and where it stands.

    ``index`` is the trial's number in its run (0-based, in the order trials were started);
    ``fidelity`` is the budget it was evaluated at (e.g. one-shot epoch, multi-fidelity rung, or the step
    at which an early-stopping rule pruned it); ``intermediate`` holds what it reported per step.
    """

    index: int
    arch: Arch
    state: TrialState = TrialState.RUNNING
    metrics: Metrics = field(default_factory=dict)
    error: Optional[str] = None
    seconds: Optional[float] = None
    worker: Optional[str] = None
    fidelity: Optional[float] = None
    kind: str = "search"
    intermediate: Dict[int, Metrics] = field(default_factory=dict)  # metrics the estimator reported per step

    def finish(self, metrics: Metrics, seconds: Optional[float] = None, error: Optional[str] = None,
               state: Optional[TrialState] = None) -> "Trial":
        """This trial ended: COMPLETE with ``metrics``, or FAILED when ``error`` is given."""
        if state is None:
            state = TrialState.FAILED if error else TrialState.COMPLETE
        return replace(self, state=state, metrics=dict(metrics), error=error, seconds=seconds)

    def value(self, metric: str) -> Optional[float]:
        """A finite numeric metric of a COMPLETE trial, else None."""
        v = self.metrics.get(metric) if self.state is TrialState.COMPLETE else None
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None

    def to_record(self) -> Dict[str, Any]:
        """The trial as one JSON-ready journal record."""
        record: Dict[str, Any] = {"index": self.index, "state": self.state.value, "kind": self.kind,
                                  "arch": plain(self.arch), "metrics": plain(self.metrics)}
        for key in ("error", "seconds", "worker", "fidelity"):
            if getattr(self, key) is not None:
                record[key] = getattr(self, key)
        if self.intermediate:
            record["intermediate"] = plain(self.intermediate)
        return record

    @classmethod
    def from_record(cls, record: Dict[str, Any]) -> "Trial":
        """Inverse of :meth:`to_record`; raises ValueError/KeyError/TypeError for a malformed record."""
        if not isinstance(record, dict) or not isinstance(record["index"], int) or not isinstance(record["arch"], dict):
            raise ValueError("not a trial record")
        kind = record.get("kind", "search")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        metrics = record.get("metrics", {})
        if not isinstance(metrics, dict):
            raise ValueError("metrics is not a mapping")
        intermediate = record.get("intermediate", {})
        if not isinstance(intermediate, dict):
            raise ValueError("intermediate is not a mapping")
        intermediate = {int(step): dict(values) for step, values in intermediate.items()}
        return cls(index=record["index"], arch=record["arch"], state=TrialState(record["state"]), metrics=metrics,
                   error=record.get("error"), seconds=record.get("seconds"), worker=record.get("worker"),
                   fidelity=record.get("fidelity"), kind=kind, intermediate=intermediate)
