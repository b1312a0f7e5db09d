"""SuperNetEstim: one-shot search; weight steps on train batches, architecture steps on validation batches."""
from __future__ import annotations

import itertools
import math
from typing import Any, Dict, List, Optional, Sequence

import torch

from ..arch_space.mixed_ops import MixedOp
from ..errors import SlotnasError
from ..optim.base import Metrics, Result
from ..optim.gradient import ArchBatch, GradientOptimizer
from .base import Estimator, register_estimator


@register_estimator("SuperNetEstim")
class SuperNetEstim(Estimator):
    """Bi-level (train / val batches) or one-level (same batch) supernet training for gradient optimizers.

    After each epoch the discretized architecture, the softmaxed alphas and the supernet's validation
    accuracy go to results.jsonl; at the end ``alphas.png`` shows the alpha trajectories.
    """

    def __init__(self, *args: Any, epochs: int = 10, one_level: bool = False, **kwargs: Any) -> None:
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

    def run(self, optimizer: Any, budget: Optional[int] = None) -> List[Result]:
        """Train the supernet for ``epochs`` (``budget`` is unused); return the per-epoch results."""
        from tqdm.auto import tqdm

        if not isinstance(optimizer, GradientOptimizer):
            raise SlotnasError(f"estim SuperNetEstim needs a gradient optimizer (DARTS, SNAS, GDAS, ProxylessNAS); "
                               f"got {type(optimizer).__name__}")
        model, trainer = self.model, self.trainer
        optimizer.prepare([(n.removesuffix(".entity"), m) for n, m in model.named_modules() if isinstance(m, MixedOp)])
        model.to(trainer.device)
        for alpha in self.space.tensors():
            alpha.data = alpha.data.to(trainer.device)
        weights = [p for p in model.parameters() if p.requires_grad]
        w_opt = trainer.make_optimizer(weights)
        sched = trainer.make_scheduler(w_opt, self.epochs * len(self.data.train))  # type: ignore[arg-type]
        val_batches = itertools.cycle(self.data.val)
        bar = tqdm(range(self.epochs), desc="supernet", unit="epoch", disable=not self.progress, dynamic_ncols=True)
        for epoch in bar:
            optimizer.on_epoch(epoch, self.epochs)
            model.train()
            train_loss = arch_obj = math.nan
            for x, y in self.data.train:
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
            metrics = self._epoch_metrics(epoch, train_loss, arch_obj, optimizer)
            arch = optimizer.discretize()
            self.record(arch, metrics)
            optimizer.step([(arch, metrics)])
            bar.set_postfix(val_acc=round(metrics["val_acc"], 2))
        if self.journal is not None:
            plot_alphas(optimizer.history, {op.alpha.name: op.names for _, op in optimizer.ops},
                        self.journal.path("alphas.png"))
        return optimizer.history

    def _epoch_metrics(self, epoch: int, train_loss: float, arch_obj: float, optimizer: GradientOptimizer) -> Metrics:
        val = self.trainer.evaluate(self.model, self.data.val)
        metrics: Metrics = {"epoch": epoch, "val_acc": val["acc"], "val_loss": val["loss"], "train_loss": train_loss,
                            "arch_objective": arch_obj, "alphas": optimizer.probabilities()}
        self.add_metrics(metrics)
        return metrics


def plot_alphas(history: Sequence[Result], names: Dict[str, List[str]], path: str) -> None:
    """One panel per architecture parameter: softmaxed alpha of each candidate over the epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = [p for p in names if all(p in m.get("alphas", {}) for _, m in history)]
    if not params or not history:
        return
    cols = min(4, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, sharey=True)
    for ax, param in zip(axes.flat, params):
        series = [m["alphas"][param] for _, m in history]
        for i, candidate in enumerate(names[param]):
            ax.plot(range(1, len(series) + 1), [s[i] for s in series], label=candidate)
        ax.set_title(param, fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
