"""Estimator interface: metrics of the architecture the space currently encodes."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from torch import nn

from ..data import DataBundle
from ..metrics.base import Metric
from ..metrics.criterion import CriterionChain
from ..params import ParamSpace
from ..registry import Registry
from ..trials import Arch, Metrics
from .reporter import Reporter
from .trainer import Trainer

ESTIMATORS = Registry("estimator")


def register_estimator(name: str) -> Callable:
    """Decorator registering an Estimator class under ``name``."""
    return ESTIMATORS.register(name)


def arch_label(arch: Arch) -> str:
    """Compact text of an architecture: values joined by '-' (name=value for numbers)."""
    parts = [str(v) if isinstance(v, str) else f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in arch.items()]
    return "-".join(parts)


class Estimator:
    """Evaluates architectures; the trial runtime picks them, applies them to the space and records results.

    Class attributes the runtime and config validation read:
    ``accepts``: the optimizer kind that drives it ("discrete" or "gradient");
    ``parallel``: whether several workers pay off (many small independent trainings; ``run.workers: auto``);
    ``default_only``: evaluates only the space's current (default) architecture, once;
    ``fidelity_continues``: whether :meth:`estimate_at` continues from ``resume`` (so a promotion costs
    only the rungs' difference);
    ``fidelity_option``: for estimators that only :meth:`report`, the option giving the number of steps
    (a stopping scheduler's max fidelity), e.g. ``steps`` of ObjectiveEstim.
    """

    accepts = "discrete"
    parallel = False
    default_only = False
    fidelity_continues = True  # a higher rung continues the lower one's state (False: starts again)
    fidelity_option: Optional[str] = None

    def __init__(self, model: nn.Module, space: ParamSpace, data: DataBundle, trainer: Trainer,
                 metrics: Sequence[Metric] = (), criterion: Optional[CriterionChain] = None) -> None:
        self.model, self.space, self.data, self.trainer = model, space, data, trainer
        self.metrics = list(metrics)
        self.criterion = criterion
        self.reporter = Reporter()  # replaced per trial by the runtime
        self.hparam_names: List[str] = []  # space parameters that are hyperparameters, not architecture
        self.trial_index: Optional[int] = None  # the trial being estimated (set by the runtime)
        self.trial_dir: Optional[str] = None  # a folder of the trial's own in the run folder (set by the runtime)

    @classmethod
    def resumable(cls) -> bool:
        """Whether it implements :meth:`estimate_at` (promotion-type multi-fidelity with checkpoints)."""
        return cls.estimate_at is not Estimator.estimate_at

    # -- for subclasses -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Work before the first architecture (e.g. supernet training); runs once, in the main process."""

    def estimate(self) -> Metrics:
        """Metrics of the architecture the space currently encodes."""
        raise NotImplementedError

    @property
    def max_fidelity(self) -> Optional[int]:
        """The full budget of one evaluation in fidelity units (e.g. epochs); None: no fidelity."""
        return None

    def estimate_at(self, fidelity: int, resume: Optional[Dict[str, Any]] = None) -> Tuple[Metrics, Dict[str, Any]]:
        """Metrics at ``fidelity`` (continuing from ``resume``, the state an earlier call returned) and the
        state to continue from later; estimators with a fidelity implement it."""
        from ..errors import SlotnasError

        raise SlotnasError(f"estim {type(self).__name__} has no fidelity (multi-fidelity schedulers need e.g. "
                           "SubNetEstim)")

    def shared_state(self) -> Optional[Dict[str, Any]]:
        """What workers need from :meth:`prepare` (e.g. supernet weights); None if they need nothing."""
        return None

    def load_shared_state(self, state: Dict[str, Any]) -> None:
        """Take the main process's :meth:`shared_state` in a worker instead of running :meth:`prepare`."""

    def report(self, step: int, metrics: Mapping[str, Any]) -> bool:
        """Record intermediate ``metrics`` after ``step`` (e.g. an epoch) and return whether to stop now.

        A custom training loop calls it once per epoch and, on True, returns its current metrics:
        under ASHA or MOASHA the trial then ends PRUNED at that step, so bad architectures stop early.
        """
        self.reporter.report(step, metrics)
        return self.reporter.should_stop()

    # -- evaluation -----------------------------------------------------------------------------
    def measure(self) -> Metrics:
        """Estimate the current architecture, then its metrics and the criterion; errors propagate."""
        return self.complete(self.estimate())

    def measure_at(self, fidelity: int, resume: Optional[Dict[str, Any]] = None) -> Tuple[Metrics, Dict[str, Any]]:
        """:meth:`measure` at ``fidelity``, continuing from ``resume``; also returns the state to continue from."""
        metrics, state = self.estimate_at(fidelity, resume)
        return self.complete(metrics), state

    def complete(self, metrics: Metrics) -> Metrics:
        """Add the metrics of the current architecture and the criterion to an estimate."""
        self.add_metrics(metrics)
        if self.criterion:
            metrics["criterion"] = float(self.criterion(metrics["val_loss"], metrics))
        return metrics

    def add_metrics(self, metrics: Metrics) -> None:
        """Merge every metric of the current architecture into ``metrics``; a failing one is recorded
        as ``<Metric>_error`` and does not lose the others."""
        for metric in self.metrics:
            try:
                metrics.update(metric.compute(self.model))
            except Exception as exc:
                metrics[f"{type(metric).__name__}_error"] = f"{type(exc).__name__}: {exc}"
