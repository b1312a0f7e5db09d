"""Mixed ops: modules that combine a Slot's candidates under an architecture parameter."""
from __future__ import annotations

from typing import Callable, List, Literal, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..constraints import PositiveFloat, PositiveInt
from ..errors import SlotError
from ..params import Categorical, Param, TensorParam
from ..registry import Registry
from .checkpointing import checkpointed
from .partial import partial_channels

MIXED_OPS = Registry("mixed op")


class MixedOp(nn.Module):
    """Named candidates plus the parameter that chooses among them."""

    checkpoint = False  # alpha-weighted ops may recompute their candidates in backward (see _weighted)
    partial_channels = 1  # PC-DARTS: candidates built at C/K channels see only those (see partial.py)

    def __init__(self, candidates: Sequence[Tuple[str, nn.Module]]) -> None:
        super().__init__()
        if not candidates:
            raise SlotError("a mixed op needs at least one candidate")
        self.names: List[str] = [name for name, _ in candidates]
        self.candidates = nn.ModuleList(module for _, module in candidates)
        self._is_zero = [bool(getattr(m, "is_zero", False)) for _, m in candidates]

    @staticmethod
    def make_param(names: Sequence[str], name: str) -> Param:
        """The architecture parameter this kind of mixed op is driven by."""
        return TensorParam(len(names), name=name)

    def params(self) -> List[Param]:
        """The architecture parameter(s) of this mixed op."""
        raise NotImplementedError

    def chosen_index(self) -> int:
        """Index of the candidate that discretization picks."""
        raise NotImplementedError

    def chosen(self) -> str:
        """Id of the candidate that discretization picks."""
        return self.names[self.chosen_index()]

    def to_fixed(self) -> nn.Module:
        """The chosen candidate as a standalone module (see :meth:`fixed_candidate`)."""
        return self.fixed_candidate(self.chosen_index())

    def fixed_candidate(self, index: int) -> nn.Module:
        """Candidate ``index`` for a derived network: the supernet's own module (shared weights), or with
        partial channels a full-width one, built once (PC-DARTS retrains the derived network)."""
        if self.partial_channels == 1:
            return self.candidates[index]
        built = self.__dict__.setdefault("_full_width", {})
        if index not in built:
            factories = self.__dict__.get("full_width_factories")
            if factories is None:
                raise SlotError(f"mixed op over {self.names}: partial channels without full-width factories "
                                "(set_full_width) cannot give a derived network")
            reference = next(iter(self.candidates[index].parameters()), None)
            module = factories[index]()
            built[index] = module if reference is None else module.to(reference.device)
        return built[index]

    def set_full_width(self, factories: Sequence[Callable[[], nn.Module]]) -> None:
        """Factories of the full-width candidates, one per name, for :meth:`fixed_candidate`."""
        self.__dict__["full_width_factories"] = list(factories)  # not submodules: kept out of the supernet

    def on_channels(self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """``fn(x)``, or with partial channels ``fn`` on the first C/K channels, the rest passed by."""
        if self.partial_channels == 1:
            return fn(x)
        return partial_channels(x, self.partial_channels, fn)

    def _weighted(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """sum_i w_i * op_i(x), skipping zero ops (their term and its gradient are exactly 0); with
        ``checkpoint`` only x, the weights and the sum are kept for backward; with partial channels the
        sum runs on the first C/K channels."""
        if self.partial_channels == 1:  # hot path: no closure per forward
            return self._weighted_part(x, weights)
        return self.on_channels(x, lambda part: self._weighted_part(part, weights))

    def _weighted_part(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        if self.checkpoint and self.training and torch.is_grad_enabled():
            return checkpointed(self._weighted_sum, self, x, weights)
        return self._weighted_sum(x, weights)

    def _weighted_sum(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        out: Optional[torch.Tensor] = None
        for w, op, zero in zip(weights.unbind(-1), self.candidates, self._is_zero):
            if zero:
                continue
            y = op(x)
            out = y * w if out is None else torch.addcmul(out, y, w)
        if out is None:
            return self.candidates[0](x) * weights.sum()
        return out

    def extra_repr(self) -> str:
        parts = "" if self.partial_channels == 1 else f", partial_channels={self.partial_channels}"
        return f"candidates={self.names}{parts}"


class _AlphaOp(MixedOp):
    """A mixed op driven by one TensorParam of logits over the candidates."""

    def __init__(self, candidates: Sequence[Tuple[str, nn.Module]], alpha: TensorParam,
                 checkpoint: bool = False, partial_channels: PositiveInt = 1) -> None:
        super().__init__(candidates)
        if not isinstance(alpha, TensorParam) or alpha.shape != (len(self.names),):
            raise SlotError(f"{type(self).__name__} needs a TensorParam of shape ({len(self.names)},)")
        self.alpha = alpha  # a Param, not an nn.Parameter: kept out of model.parameters()
        self.checkpoint = checkpoint  # recompute each candidate's activations in backward (less memory)
        self.partial_channels = partial_channels  # candidates are built at C/K channels (construct does it)

    def params(self) -> List[Param]:
        return [self.alpha]

    def chosen_index(self) -> int:
        return int(self.alpha.value.detach().argmax())

    def probs(self) -> torch.Tensor:
        """Softmax of the architecture logits."""
        return F.softmax(self.alpha.value, dim=-1)


@MIXED_OPS.register("weighted_sum")
class WeightedSum(_AlphaOp):
    """DARTS: softmax(alpha)-weighted sum of all candidates."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._weighted(x, self.probs())


@MIXED_OPS.register("gumbel")
class GumbelSum(_AlphaOp):
    """SNAS (soft) / GDAS (hard): Gumbel-softmax weights with temperature ``tau``."""

    def __init__(
        self, candidates: Sequence[Tuple[str, nn.Module]], alpha: TensorParam, tau: PositiveFloat = 1.0,
        hard: bool = False, checkpoint: bool = False, partial_channels: PositiveInt = 1
    ) -> None:
        super().__init__(candidates, alpha, checkpoint, partial_channels)
        self.tau, self.hard = tau, hard

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            if self.hard:
                return self.on_channels(x, self.candidates[self.chosen_index()])
            return self._weighted(x, self.probs())
        weights = F.gumbel_softmax(self.alpha.value, tau=self.tau, hard=self.hard)
        if self.hard:  # GDAS: run only the sampled op; straight-through gradient to alpha
            idx = int(weights.detach().argmax())
            # As in the GDAS reference code, the unselected hard weights (exactly 0 forward) are
            # added as scalars so that every alpha receives a gradient, not only the sampled one's.
            others = weights.sum() - weights[idx]
            return self.on_channels(x, lambda part: self.candidates[idx](part) * weights[idx] + others)
        return self._weighted(x, weights)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, tau={self.tau}, hard={self.hard}"


@MIXED_OPS.register("binary_gate")
class BinaryGate(_AlphaOp):
    """ProxylessNAS: sample ``n_paths`` (1 or 2) paths; only the active one keeps activations."""

    def __init__(
        self, candidates: Sequence[Tuple[str, nn.Module]], alpha: TensorParam, n_paths: Literal[1, 2] = 2
    ) -> None:
        super().__init__(candidates, alpha)
        if n_paths not in (1, 2):
            raise SlotError(f"BinaryGate n_paths must be 1 or 2, got {n_paths}")
        self.n_paths = n_paths
        self.last_pair: Optional[Tuple[int, int]] = None  # paths sampled by the last two-path forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.to_fixed()(x)
        probs = self.probs()
        if self.n_paths == 1 or len(self.names) == 1:
            idx = int(torch.multinomial(probs.detach(), 1))
            return self.candidates[idx](x)
        pair = torch.multinomial(probs.detach(), 2, replacement=False)
        rescaled = F.softmax(self.alpha.value[pair], dim=-1)
        active = int(torch.multinomial(rescaled.detach(), 1))
        # Straight-through binary gates: forward is one-hot, gradient flows to the pair's alphas.
        gates = F.one_hot(torch.tensor(active), 2).to(rescaled) - rescaled.detach() + rescaled
        a, b = int(pair[active]), int(pair[1 - active])
        self.last_pair = (int(pair[0]), int(pair[1]))
        out_active = self.candidates[a](x)
        with torch.no_grad():
            out_other = self.candidates[b](x)
        return out_active * gates[active] + out_other * gates[1 - active]

    def extra_repr(self) -> str:
        return f"candidates={self.names}, n_paths={self.n_paths}"


@MIXED_OPS.register("index")
class Index(MixedOp):
    """Single path chosen by a Categorical over candidate ids; only that path runs."""

    def __init__(self, candidates: Sequence[Tuple[str, nn.Module]], param: Categorical) -> None:
        super().__init__(candidates)
        if not isinstance(param, Categorical) or param.choices != self.names:
            raise SlotError(f"Index needs a Categorical whose choices are {self.names}")
        self.param = param

    @staticmethod
    def make_param(names: Sequence[str], name: str) -> Param:
        return Categorical(list(names), name=name)

    def params(self) -> List[Param]:
        return [self.param]

    def chosen_index(self) -> int:
        return self.param.index()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.candidates[self.param.index()](x)
