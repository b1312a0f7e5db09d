"""ProgressiveShrinkingEstim: once-for-all training of an elastic network, then sub-networks scored with
its weights (BN recalibrated), searched by any discrete optimizer without retraining."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..arch_space.export import fix
from ..constraints import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from ..errors import SlotnasError
from ..trials import Arch
from .base import register_estimator
from .spos import SharedWeightsEstim

KINDS = ("kernel", "depth", "width")
Allowed = Dict[str, List[Any]]  # the values of each elastic parameter a stage samples from


def largest(allowed: Allowed) -> Arch:
    """The largest sub-network of a stage."""
    return {name: max(values) for name, values in allowed.items()}


@register_estimator("ProgressiveShrinkingEstim")
class ProgressiveShrinkingEstim(SharedWeightsEstim):
    """OFA's progressive shrinking: train the largest network for ``full_epochs``, then, kind by kind in
    ``order``, allow the next smaller value of every kernel / depth / width parameter, each stage
    ``stage_epochs`` long at learning rate ``stage_lr`` (default: the trainer's). Each step trains
    ``samples`` random sub-networks of the allowed set (with ``sandwich`` also the largest and the
    smallest), gradients summed; at every stage the channels are re-sorted by ``importance``; with
    ``distill`` > 0 the loss adds that weight times the soft cross-entropy to the largest network of the
    first stage (knowledge distillation). Parameters that are not elastic keep their values.
    """

    def __init__(self, *args: Any, full_epochs: PositiveInt = 2, stage_epochs: PositiveInt = 1,
                 order: List[Literal[KINDS]] = list(KINDS), sandwich: bool = True, samples: NonNegativeInt = 1,
                 distill: NonNegativeFloat = 0.0, importance: Literal["l1", "bn", "score"] = "l1",
                 stage_lr: Optional[PositiveFloat] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.space.elastic is None or not self.space.elastic.kinds():
            raise SlotnasError("estim ProgressiveShrinkingEstim: the space has no elastic parameters; add an "
                               "'elastic:' section (width, depth or kernel rules)")
        if not sandwich and samples == 0:
            raise SlotnasError("estim.samples: 0 without sandwich trains nothing; allowed: >= 1, or sandwich: true")
        self.full_epochs, self.stage_epochs, self.order = full_epochs, stage_epochs, list(dict.fromkeys(order))
        self.sandwich, self.samples, self.distill = sandwich, samples, distill
        self.importance, self.stage_lr = importance, stage_lr
        self.teacher: Optional[nn.Module] = None

    def stages(self) -> List[Allowed]:
        """The allowed values per elastic parameter of each stage: the largest network first, then one more
        value of one kind per stage, largest to smallest."""
        kinds = self.space.elastic.kinds()
        choices = {name: sorted(self.space.get(name).choices) for name in kinds}
        allowed = {name: [values[-1]] for name, values in choices.items()}
        plan: List[Allowed] = [copy.deepcopy(allowed)]
        for kind in self.order:
            names = [n for n, k in kinds.items() if k == kind]
            values = sorted({v for n in names for v in choices[n]}, reverse=True)
            for value in values[1:]:
                for name in names:
                    if value in choices[name]:
                        allowed[name].append(value)
                plan.append(copy.deepcopy(allowed))
        return plan

    def _subnets(self, allowed: Allowed) -> List[Arch]:
        archs: List[Arch] = []
        if self.sandwich:
            archs += [largest(allowed), {n: min(v) for n, v in allowed.items()}]
        archs += [{n: self.rng.choice(v) for n, v in allowed.items()} for _ in range(self.samples)]
        return archs

    def prepare(self) -> None:
        plan = self.stages()
        batches = self.data.train
        total = self.full_epochs + self.stage_epochs * (len(plan) - 1)
        done = 0
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.model.to(self.trainer.device)
        for index, allowed in enumerate(plan):
            if index > 0:
                self.space.elastic.sort(self.importance)
            epochs = self.full_epochs if index == 0 else self.stage_epochs
            opt = self.trainer.make_optimizer(params)
            lr = self.trainer.lr if index == 0 or self.stage_lr is None else self.stage_lr
            for group in opt.param_groups:
                group["lr"] = lr
            sched = self.trainer.make_scheduler(opt, epochs * len(batches))
            for _ in range(epochs):
                self.model.train()
                for batch, (x, y) in enumerate(batches, 1):
                    self._step(opt, params, allowed, x.to(self.trainer.device), y.to(self.trainer.device))
                    if sched is not None:
                        sched.step()
                    self.trainer.show(done, total, batch, len(batches))
                done += 1
            if index == 0 and self.distill > 0:
                self.space.update(largest(allowed))
                self.teacher = fix(self.model).eval()
        self.space.update(largest(plan[-1]))

    def _step(self, opt: torch.optim.Optimizer, params: List[nn.Parameter], allowed: Allowed,
              x: torch.Tensor, y: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        soft = None
        if self.teacher is not None:
            with torch.no_grad():
                soft = F.softmax(self.teacher(x), dim=1)
        for arch in self._subnets(allowed):
            self.space.update(arch)
            logits = self.model(x)
            loss = self.trainer.loss(logits, y)
            if soft is not None:
                loss = loss + self.distill * -(soft * F.log_softmax(logits, dim=1)).sum(1).mean()
            self.trainer.backward(loss, f"sub-network {arch}")  # summed over the sub-networks
        self.trainer.step(opt, params)
