"""Estimator interface: the search loop of ModularNAS Algorithm 2."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from torch import nn

from ..data import DataBundle
from ..errors import ParamError, SlotnasError
from ..journal import Journal
from ..metrics.base import Metric
from ..metrics.criterion import CriterionChain
from ..optim.base import Arch, Metrics, Optimizer, Result, arch_key
from ..params import ParamSpace
from ..registry import Registry
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
    """Evaluates architectures: estimate -> record -> optimizer step -> transform (via events)."""

    def __init__(self, model: nn.Module, space: ParamSpace, data: DataBundle, trainer: Trainer,
                 metrics: Sequence[Metric] = (), journal: Optional[Journal] = None, progress: bool = True,
                 criterion: Optional[CriterionChain] = None) -> None:
        self.model, self.space, self.data, self.trainer = model, space, data, trainer
        self.metrics, self.journal, self.progress = list(metrics), journal, progress
        self.criterion = criterion
        # results by architecture key; a resumed run folder seeds it, so nothing is computed twice
        self.cache: Dict[Tuple, Metrics] = {}
        if journal is not None:
            for record in journal.records():
                if not record.get("retrained"):
                    self.cache[arch_key(record["arch"])] = record["metrics"]

    # -- for subclasses -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Work before the first architecture (e.g. supernet training)."""

    def estimate(self) -> Metrics:
        """Metrics of the architecture the space currently encodes."""
        raise NotImplementedError

    # -- the loop -------------------------------------------------------------------------------
    def evaluate(self, arch: Arch) -> Metrics:
        """Metrics of ``arch``: from the cache if known, else transform, estimate and measure."""
        key = arch_key(arch)
        if key in self.cache:
            return dict(self.cache[key], cached=True)
        metrics = self.measure(arch)
        self.cache[key] = metrics
        return dict(metrics)

    def measure(self, arch: Arch) -> Metrics:
        """Transform to ``arch`` and estimate it; a failure is returned as {'error': ...}."""
        start = time.perf_counter()
        try:
            self.space.update(arch)
            metrics = self.estimate()
            self.add_metrics(metrics)
            if self.criterion:
                metrics["criterion"] = float(self.criterion(metrics["val_loss"], metrics))
        except ParamError:
            raise  # the optimizer proposed an invalid value: a bug, not a bad architecture
        except Exception as exc:
            metrics = {"error": f"{type(exc).__name__}: {exc}"}
        metrics["seconds"] = round(time.perf_counter() - start, 4)
        return metrics

    def add_metrics(self, metrics: Metrics) -> None:
        """Merge every metric of the current architecture into ``metrics``; a failing one is recorded
        as ``<Metric>_error`` and does not lose the others."""
        for metric in self.metrics:
            try:
                metrics.update(metric.compute(self.model))
            except Exception as exc:
                metrics[f"{type(metric).__name__}_error"] = f"{type(exc).__name__}: {exc}"

    def record(self, arch: Arch, metrics: Metrics) -> None:
        """Append one result to the journal."""
        if self.journal is not None:
            self.journal.append({"index": self.journal.count, "arch": arch, "metrics": metrics})

    def run(self, optimizer: Optimizer, budget: int) -> List[Result]:
        """Evaluate up to ``budget`` architectures proposed by ``optimizer``; return its history."""
        from tqdm.auto import tqdm

        require_discrete(optimizer)
        self.prepare()
        bar = tqdm(total=budget, desc="search", unit="arch", disable=not self.progress, dynamic_ncols=True)
        try:
            evaluated = 0
            while evaluated < budget:
                proposals = optimizer.next(1)
                if not proposals:
                    break  # the space is exhausted
                for arch in proposals:
                    metrics = self.evaluate(arch)
                    if not metrics.get("cached"):
                        self.record(arch, metrics)
                    optimizer.step([(arch, metrics)])
                    evaluated += 1
                    bar.update(1)
                    best = optimizer.best()
                    if best is not None:
                        bar.set_postfix({optimizer.objective: _short(best[1].get(optimizer.objective))})
        finally:
            bar.close()
        return optimizer.history


def require_discrete(optimizer: Any) -> None:
    """Raise a one-line error for a gradient optimizer given to a discrete estimator."""
    if not hasattr(optimizer, "next"):
        raise SlotnasError(f"optim {getattr(optimizer, 'method', type(optimizer).__name__)} is gradient-based: "
                           "use estim SuperNetEstim")


def _short(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) and not math.isnan(value) else value
