"""SuperNetEstim: one-shot search; weight steps on train batches, architecture steps on validation batches."""
from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Dict, Optional

import torch

from ..constraints import PositiveInt
from ..arch_space.mixed_ops import MixedOp
from ..data import shuffle_generators
from ..optim.gradient import ArchBatch, GradientOptimizer
from ..trials import Arch, Metrics
from .base import Estimator, register_estimator

EpochReport = Callable[[int, Arch, Metrics, Dict[str, Any]], None]  # epoch, arch, metrics, checkpoint


@register_estimator("SuperNetEstim")
class SuperNetEstim(Estimator):
    """Bi-level (train / val batches) or one-level (same batch) supernet training for gradient optimizers.

    After each epoch it reports the discretized architecture, the softmaxed alphas and the supernet's
    validation accuracy, with a checkpoint of everything the next epochs depend on (weights, alphas,
    both optimizers, the LR schedule, random and data-order states); the runtime keeps the
    checkpoint, stores the epoch's trial and tells the optimizer. ``search(..., checkpoint)``
    continues after the checkpoint's epoch exactly as the uninterrupted run would.
    """

    accepts = "gradient"

    def __init__(self, *args: Any, epochs: PositiveInt = 10, one_level: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epochs, self.one_level = epochs, one_level
    def arch_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Task loss, then the criterion chain over the metrics' differentiable expectations."""
        loss = self.trainer.loss(self.model(x), y)
        if self.criterion:
            expected: Dict[str, Any] = {}
            for metric in self.metrics:
                if hasattr(metric, "expected"):
                    expected.update(metric.expected(self.model))
            loss = self.criterion(loss, expected)
        return loss

    def search(self, optimizer: GradientOptimizer, report: EpochReport,
               checkpoint: Optional[Dict[str, Any]] = None) -> None:
        """Train the supernet for ``epochs`` (after ``checkpoint``'s epoch); ``report`` after each epoch."""
        model, trainer = self.model, self.trainer
        optimizer.prepare([(n.removesuffix(".entity"), m) for n, m in model.named_modules() if isinstance(m, MixedOp)])
        model.to(trainer.device)
        for alpha in self.space.tensors():
            alpha.data = alpha.data.to(trainer.device)
        weights = [p for p in model.parameters() if p.requires_grad]
        w_opt = trainer.make_optimizer(weights)
        sched = trainer.make_scheduler(w_opt, self.epochs * len(self.data.train))  # type: ignore[arg-type]
        val_batches = itertools.cycle(self.data.val)
        start = 0
        if checkpoint is not None:
            start = self._restore(checkpoint, optimizer, w_opt, sched)
            if not self.one_level:  # the validation batches continue where they were
                for _ in range((start * len(self.data.train)) % len(self.data.val)):  # type: ignore[arg-type]
                    next(val_batches)
        for epoch in range(start, self.epochs):
            optimizer.on_epoch(epoch, self.epochs)
            model.train()
            train_loss = arch_obj = math.nan
            for batch, (x, y) in enumerate(self.data.train, 1):
                x, y = x.to(trainer.device), y.to(trainer.device)
                xv, yv = (x, y) if self.one_level else (t.to(trainer.device) for t in next(val_batches))
                optimizer.arch_mode()
                arch_obj = optimizer.arch_step(ArchBatch(
                    val_loss=lambda: self.arch_loss(xv, yv),
                    train_loss=lambda: trainer.loss(model(x), y),
                    weights=weights, weight_lr=w_opt.param_groups[0]["lr"], weight_decay=trainer.weight_decay))
                optimizer.weight_mode()
                train_loss = trainer.train_step(model, w_opt, weights, x, y)
                if sched is not None:
                    sched.step()
                trainer.show(epoch, self.epochs, batch, len(self.data.train))  # type: ignore[arg-type]
            arch, metrics = optimizer.discretize(), self._epoch_metrics(epoch, train_loss, arch_obj, optimizer)
            report(epoch, arch, metrics, self._checkpoint(epoch, arch, metrics, optimizer, w_opt, sched))

    def _checkpoint(self, epoch: int, arch: Arch, metrics: Metrics, optimizer: GradientOptimizer, w_opt: Any,
                    sched: Any) -> Dict[str, Any]:
        """Everything the epochs after ``epoch`` depend on; loadable with ``torch.load(weights_only=True)``."""
        return {"epoch": epoch, "model": self.model.state_dict(), "optimizer": optimizer.state_dict(),
                "w_opt": w_opt.state_dict(), "sched": None if sched is None else sched.state_dict(),
                "rng": torch.get_rng_state(), "data_rng": [g.get_state() for g in shuffle_generators(self.data)],
                "report": {"arch": dict(arch), "metrics": dict(metrics)}}

    def _restore(self, state: Dict[str, Any], optimizer: GradientOptimizer, w_opt: Any, sched: Any) -> int:
        """Load a checkpoint; return the first epoch still to train."""
        self.model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        w_opt.load_state_dict(state["w_opt"])
        if sched is not None and state["sched"] is not None:
            sched.load_state_dict(state["sched"])
        torch.set_rng_state(state["rng"])
        for generator, value in zip(shuffle_generators(self.data), state["data_rng"]):
            generator.set_state(value)
        return int(state["epoch"]) + 1


    def _epoch_metrics(self, epoch: int, train_loss: float, arch_obj: float, optimizer: GradientOptimizer) -> Metrics:
        val = self.trainer.evaluate(self.model, self.data.val)
        metrics: Metrics = {"epoch": epoch, "val_acc": val["acc"], "val_loss": val["loss"], "train_loss": train_loss,
                            "arch_objective": arch_obj, "alphas": optimizer.probabilities()}
        self.add_metrics(metrics)
        return metrics
