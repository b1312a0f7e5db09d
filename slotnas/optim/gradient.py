"""Gradient-based optimizers on TensorParams: DARTS (1st/2nd order), SNAS, GDAS, ProxylessNAS."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..constraints import Beta, NonNegativeFloat, PositiveFloat
from ..arch_space.mixed_ops import BinaryGate, GumbelSum, MixedOp, WeightedSum
from ..errors import SlotnasError
from ..params import ParamSpace, TensorParam
from ..trials import Trial
from .base import Arch, Mode, Optimizer, register_optimizer


@dataclass
class ArchBatch:
    """What one architecture step needs from the estimator (closures over the current batches)."""

    val_loss: Callable[[], torch.Tensor]        # arch objective on the validation batch (incl. criteria)
    train_loss: Callable[[], torch.Tensor]      # task loss on the training batch (for the unrolled step)
    weights: Sequence[nn.Parameter]             # network weights w
    weight_lr: float = 0.025                    # xi of the virtual step
    weight_decay: float = 0.0


class GradientOptimizer(Optimizer):
    """Learns the space's TensorParams with a tensor optimizer; a one-shot estimator drives it (see Optimizer)."""

    kind = "gradient"
    method = "gradient"
    mixed_kind: type = WeightedSum
    mixed_name = "weighted_sum"

    def __init__(self, space: ParamSpace, lr: PositiveFloat = 3e-4, betas: Tuple[Beta, Beta] = (0.5, 0.999),
                 weight_decay: NonNegativeFloat = 1e-3, objective: str = "val_acc", mode: Mode = "max",
                 seed: Optional[int] = None) -> None:
        super().__init__(space, objective=objective, mode=mode, seed=seed)
        self.tensors = space.tensors()
        if not self.tensors:
            raise SlotnasError(f"optim {self.method}: the space has no TensorParam; "
                               f"construct with mixed_op (mixed: {self.mixed_name})")
        self.arch_opt = torch.optim.Adam(self.tensors, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
        self.ops: List[Tuple[str, MixedOp]] = []

    # -- estimator hooks ------------------------------------------------------------------------
    def prepare(self, ops: Sequence[Tuple[str, MixedOp]]) -> None:
        """Check the supernet's mixed ops (name, op) are of the kind this method needs."""
        for name, op in ops:
            if not isinstance(op, self.mixed_kind):
                raise SlotnasError(f"optim {self.method} needs mixed ops '{self.mixed_name}'; slot {name!r} "
                                   f"has {type(op).__name__} (set construct mixed: {self.mixed_name})")
        if not ops:
            raise SlotnasError(f"optim {self.method}: the model has no mixed op to search")
        self.ops = list(ops)

    def on_epoch(self, epoch: int, epochs: int) -> None:
        """Per-epoch schedule (e.g. Gumbel temperature)."""

    def weight_mode(self) -> None:
        """Set the mixed ops up for a weight step."""

    def arch_mode(self) -> None:
        """Set the mixed ops up for an architecture step."""

    def arch_step(self, batch: ArchBatch) -> float:
        """One update of the architecture tensors; returns the validation objective."""
        self.arch_opt.zero_grad(set_to_none=True)
        loss = batch.val_loss()
        loss.backward()
        self.arch_opt.step()
        return float(loss.detach())

    def state_dict(self) -> Dict[str, Any]:
        """The architecture tensors and the arch optimizer's state (for a one-shot checkpoint)."""
        return {"alphas": [t.detach().cpu().clone() for t in self.tensors], "arch_opt": self.arch_opt.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (alphas in place: mixed ops keep their references)."""
        with torch.no_grad():
            for tensor, value in zip(self.tensors, state["alphas"]):
                tensor.copy_(value.to(tensor.device))
        self.arch_opt.load_state_dict(state["arch_opt"])

    # -- results --------------------------------------------------------------------------------
    def discretize(self) -> Arch:
        """Chosen candidate per parameter: argmax of each mixed op's alpha."""
        return {op.alpha.name: op.chosen() for _, op in self.ops if isinstance(getattr(op, "alpha", None), TensorParam)}

    def probabilities(self) -> Dict[str, List[float]]:
        """Softmax of every architecture tensor, by parameter name."""
        return {p.name: torch.softmax(p.value.detach(), -1).cpu().tolist() for p in self.space.of_type(TensorParam)}

    def best(self, trials: Sequence[Trial]) -> Optional[Trial]:
        """The last epoch's discretized architecture (gradient methods converge rather than rank)."""
        return trials[-1] if trials else None


@register_optimizer("DARTS")
class DARTSOptim(GradientOptimizer):
    """DARTS: softmax-weighted supernet; first order, or second order with the unrolled virtual step."""

    method = "DARTS"

    def __init__(self, space: ParamSpace, unrolled: bool = False, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.unrolled = unrolled

    def arch_step(self, batch: ArchBatch) -> float:
        if not self.unrolled:
            return super().arch_step(batch)
        self.arch_opt.zero_grad(set_to_none=True)
        loss = unrolled_backward(batch, self.tensors)
        self.arch_opt.step()
        return loss


def unrolled_backward(batch: ArchBatch, alphas: Sequence[torch.Tensor]) -> float:
    """Put DARTS' second-order hypergradient into ``alpha.grad``; weights are left unchanged.

    w' = w - xi (dL_train/dw + wd w);  g = dL_val(w', a)/da - xi * H dL_val(w', a)/dw',
    with the Hessian-vector product by central differences at w +- eps dL_val/dw'.
    """
    weights = [w for w in batch.weights if w.requires_grad]
    xi = batch.weight_lr
    saved = [w.detach().clone() for w in weights]
    grads = torch.autograd.grad(batch.train_loss(), weights, allow_unused=True)
    with torch.no_grad():  # virtual step, in place
        for w, g in zip(weights, grads):
            if g is not None:
                w.sub_(xi * (g + batch.weight_decay * w))
    val = batch.val_loss()
    both = torch.autograd.grad(val, list(alphas) + weights, allow_unused=True)
    d_alpha, d_w = both[: len(alphas)], both[len(alphas):]
    with torch.no_grad():
        for w, s in zip(weights, saved):
            w.copy_(s)
    vec = [g if g is not None else torch.zeros_like(w) for g, w in zip(d_w, weights)]
    norm = torch.sqrt(sum((v * v).sum() for v in vec))
    eps = 0.01 / float(norm) if float(norm) > 0 else 0.0
    hessian = _alpha_grad_at(batch, weights, vec, eps, alphas)
    minus = _alpha_grad_at(batch, weights, vec, -eps, alphas)
    with torch.no_grad():
        for w, s in zip(weights, saved):
            w.copy_(s)
    for a, da, hp, hm in zip(alphas, d_alpha, hessian, minus):
        hv = (hp - hm) / (2 * eps) if eps else torch.zeros_like(a)
        g = (da if da is not None else torch.zeros_like(a)) - xi * hv
        a.grad = g if a.grad is None else a.grad + g
    return float(val.detach())


def _alpha_grad_at(batch: ArchBatch, weights: List[nn.Parameter], vec: List[torch.Tensor], eps: float,
                   alphas: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    """d L_train / d alpha at w + eps * vec (weights are moved in place; the caller restores them)."""
    with torch.no_grad():
        for w, v in zip(weights, vec):
            w.add_(eps * v)
    grads = torch.autograd.grad(batch.train_loss(), list(alphas), allow_unused=True)
    with torch.no_grad():
        for w, v in zip(weights, vec):
            w.sub_(eps * v)
    return [g if g is not None else torch.zeros_like(a) for g, a in zip(grads, alphas)]


class _GumbelOptim(GradientOptimizer):
    """Gumbel-softmax methods: temperature annealed from ``tau_max`` to ``tau_min`` over the epochs."""

    mixed_kind = GumbelSum
    mixed_name = "gumbel"
    hard = False

    def __init__(self, space: ParamSpace, tau_max: PositiveFloat = 10.0, tau_min: PositiveFloat = 0.1, schedule: str = "exp",
                 **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        if schedule not in ("exp", "linear"):
            raise SlotnasError(f"optim.schedule: {schedule!r} not allowed; allowed: exp, linear")
        self.tau_max, self.tau_min, self.schedule = tau_max, tau_min, schedule

    def prepare(self, ops: Sequence[Tuple[str, MixedOp]]) -> None:
        super().prepare(ops)
        for _, op in self.ops:
            op.hard = self.hard
        self.on_epoch(0, 1)

    def temperature(self, epoch: int, epochs: int) -> float:
        """tau for ``epoch`` (0-based) of ``epochs``."""
        t = epoch / max(1, epochs - 1)
        if self.schedule == "linear":
            return self.tau_max + t * (self.tau_min - self.tau_max)
        return self.tau_max * (self.tau_min / self.tau_max) ** t

    def on_epoch(self, epoch: int, epochs: int) -> None:
        tau = self.temperature(epoch, epochs)
        for _, op in self.ops:
            op.tau = tau


@register_optimizer("SNAS")
class SNASOptim(_GumbelOptim):
    """SNAS: soft Gumbel-softmax relaxation, all candidates weighted by a sample."""

    method = "SNAS"


@register_optimizer("GDAS")
class GDASOptim(_GumbelOptim):
    """GDAS: hard Gumbel-softmax; one sampled candidate per op runs, straight-through gradient."""

    method = "GDAS"
    hard = True


@register_optimizer("ProxylessNAS")
class ProxylessNASOptim(GradientOptimizer):
    """ProxylessNAS-G: one sampled path for weight steps, two for arch steps; pair alphas rescaled."""

    method = "ProxylessNAS"
    mixed_kind = BinaryGate
    mixed_name = "binary_gate"

    def __init__(self, space: ParamSpace, lr: PositiveFloat = 6e-3, betas: Tuple[Beta, Beta] = (0.0, 0.999),
                 weight_decay: NonNegativeFloat = 0.0, **kwargs: Any) -> None:
        super().__init__(space, lr=lr, betas=betas, weight_decay=weight_decay, **kwargs)

    def weight_mode(self) -> None:
        for _, op in self.ops:
            op.n_paths = 1

    def arch_mode(self) -> None:
        for _, op in self.ops:
            op.n_paths = 2

    def arch_step(self, batch: ArchBatch) -> float:
        before = {id(op): op.alpha.value.detach().clone() for _, op in self.ops}
        loss = super().arch_step(batch)
        with torch.no_grad():  # keep the unsampled paths' probabilities as they were
            for _, op in self.ops:
                pair = op.last_pair
                if pair is None:
                    continue
                idx = torch.tensor(pair)
                old, new = before[id(op)][idx], op.alpha.value[idx]
                op.alpha.value[idx] += torch.logsumexp(old, 0) - torch.logsumexp(new, 0)
        return loss
