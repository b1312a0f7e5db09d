"""A configurable classification trainer: SGD or Adam, cosine LR, cross-entropy."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, Iterable, List, Literal, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..constraints import Dropout, NonNegativeFloat, PositiveFloat, PositiveInt, UnitInterval
from ..errors import SlotnasError
from ..registry import check_options

OPTIMIZERS = ("sgd", "adam")
SCHEDULERS = ("cosine", "none")


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


def pick_device(name: str = "auto") -> torch.device:
    """CUDA when present for 'auto'; otherwise the named device, which must exist on this machine."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise SlotnasError(f"trainer.device: {name!r} is not a device; allowed: auto, cpu, cuda, cuda:N, mps") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            raise SlotnasError(f"trainer.device: {name!r} but this machine has {count} CUDA device(s); "
                               f"allowed: auto, cpu" + (f", cuda:0..{count - 1}" if count else ""))
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise SlotnasError(f"trainer.device: {name!r} but MPS is not available here; allowed: auto, cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise SlotnasError(f"trainer.device: {name!r} is not supported; allowed: auto, cpu, cuda, cuda:N, mps")
    return device


def reset_weights(model: nn.Module) -> None:
    """Re-initialize every submodule that has ``reset_parameters`` (train-from-scratch)."""
    for module in model.modules():
        if hasattr(module, "reset_parameters") and module is not model:
            module.reset_parameters()
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()


class Trainer:
    """Trains and evaluates a classifier; the weight optimizer never sees architecture tensors."""

    def __init__(self, optimizer: Literal[OPTIMIZERS] = "sgd", lr: PositiveFloat = 0.05,
                 momentum: UnitInterval = 0.9, weight_decay: NonNegativeFloat = 5e-4, nesterov: bool = True,
                 scheduler: Literal[SCHEDULERS] = "cosine", epochs: PositiveInt = 10,
                 grad_clip: NonNegativeFloat = 5.0, label_smoothing: Dropout = 0.0, device: str = "auto") -> None:
        check_options(Trainer, "trainer", {"optimizer": optimizer, "scheduler": scheduler})  # Python callers too
        self.optimizer, self.lr, self.momentum, self.weight_decay = optimizer, lr, momentum, weight_decay
        self.nesterov, self.scheduler, self.epochs = nesterov, scheduler, epochs
        self.grad_clip, self.label_smoothing = grad_clip, label_smoothing
        self.device = pick_device(device)
        self.status: Optional[Callable[[str], None]] = None  # set by a progress display: "epoch 2/6, batch 5/17"
        self._shown = 0.0

    def show(self, epoch: int, epochs: int, batch: int, batches: int) -> None:
        """Tell ``status`` where training stands, at most once a second."""
        if self.status is None:
            return
        now = time.monotonic()
        if now - self._shown >= 1.0 or batch == batches:
            self._shown = now
            self.status(f"epoch {epoch + 1}/{epochs}, batch {batch}/{batches}")

    def make_optimizer(self, params: List[nn.Parameter]) -> torch.optim.Optimizer:
        """The weight optimizer over ``params``."""
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(params, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay,
                               nesterov=self.nesterov and self.momentum > 0)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy with optional label smoothing."""
        return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)

    def make_scheduler(self, opt: torch.optim.Optimizer, steps: int) -> Optional[Any]:
        """Cosine annealing over ``steps`` optimizer steps, or None."""
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps)) if self.scheduler == "cosine" else None

    def train_step(self, model: nn.Module, opt: torch.optim.Optimizer, params: Sequence[nn.Parameter],
                   x: torch.Tensor, y: torch.Tensor) -> float:
        """One weight step on a batch (already on the device); returns the loss.

        A non-finite loss raises NonFiniteLoss; a loss that depends on no weight (e.g. a sampled
        path of only zero ops) is not stepped.
        """
        opt.zero_grad(set_to_none=True)
        loss = self.loss(model(x), y)
        self.backward(loss)
        if loss.requires_grad:
            self.step(opt, params)
        return loss.item()

    def backward(self, loss: torch.Tensor, what: str = "") -> None:
        """Gradients of ``loss`` (added to those already there); a non-finite loss raises NonFiniteLoss
        (``what`` names e.g. the sub-network in its message)."""
        if not torch.isfinite(loss):
            raise NonFiniteLoss(f"training loss became {loss.item()}" + (f" ({what})" if what else ""))
        if loss.requires_grad:
            loss.backward()

    def step(self, opt: torch.optim.Optimizer, params: Sequence[nn.Parameter]) -> None:
        """Clip the gradients' norm to ``grad_clip`` (when set) and take the optimizer step."""
        if self.grad_clip:
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        opt.step()

    def fit(self, model: nn.Module, batches: Iterable, epochs: Optional[int] = None,
            params: Optional[List[nn.Parameter]] = None, before_batch: Optional[Callable[[], None]] = None) -> float:
        """Train for ``epochs``; ``before_batch`` runs ahead of each step (e.g. SPOS path sampling)."""
        epochs = self.epochs if epochs is None else epochs
        return self.fit_until(model, batches, epochs, epochs, params=params, before_batch=before_batch)[0]

    def fit_until(self, model: nn.Module, batches: Iterable, stop: int, total: int,
                  resume: Optional[Dict[str, Any]] = None, params: Optional[List[nn.Parameter]] = None,
                  before_batch: Optional[Callable[[], None]] = None) -> Tuple[float, Dict[str, Any]]:
        """Train epochs [resume's epoch or 0, ``stop``) of a ``total``-epoch schedule.

        Returns the last loss and the state to continue from (weights, optimizer, LR schedule, epoch,
        random and data-order state; loadable with ``weights_only=True``): continuing to a later
        ``stop`` gives the same weights as training to it straight through.
        """
        params = [p for p in (params or model.parameters()) if p.requires_grad]
        opt = self.make_optimizer(params)
        sched = self.make_scheduler(opt, total * len(batches))  # type: ignore[arg-type]
        generator = getattr(batches, "generator", None)
        start = 0
        if resume is not None:
            model.load_state_dict(resume["model"])
            opt.load_state_dict(resume["optimizer"])
            if sched is not None and resume["scheduler"] is not None:
                sched.load_state_dict(resume["scheduler"])
            torch.set_rng_state(resume["rng"])
            if isinstance(generator, torch.Generator) and resume["data_rng"] is not None:
                generator.set_state(resume["data_rng"])
            start = int(resume["epoch"])
        model.to(self.device).train()
        last = math.nan
        for epoch in range(start, stop):
            for batch, (x, y) in enumerate(batches, 1):
                if before_batch is not None:
                    before_batch()
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
                last = self.train_step(model, opt, params, x, y)
                if sched is not None:
                    sched.step()
                self.show(epoch, total, batch, len(batches))  # type: ignore[arg-type]
        state = {"epoch": max(start, stop), "model": model.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": None if sched is None else sched.state_dict(), "rng": torch.get_rng_state(),
                 "data_rng": generator.get_state() if isinstance(generator, torch.Generator) else None}
        return last, state

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches: Iterable) -> Dict[str, float]:
        """Accuracy (in %) and mean loss on ``batches``."""
        model.to(self.device).eval()
        correct = total = 0
        loss_sum = 0.0
        for x, y in batches:
            x, y = x.to(self.device), y.to(self.device)
            logits = model(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            total += len(y)
        if total == 0:
            raise SlotnasError("evaluation data is empty")
        return {"acc": 100.0 * correct / total, "loss": loss_sum / total}

    @torch.no_grad()
    def recalibrate_bn(self, model: nn.Module, batches: Iterable, n_batches: int) -> None:
        """Recompute BatchNorm running statistics on a few training batches (SPOS evaluation)."""
        bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the calibration batches
        model.to(self.device).train()
        for i, (x, _) in enumerate(batches):
            if i >= n_batches:
                break
            model(x.to(self.device))
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
