"""Latency lookup table: each candidate timed once per slot context; an architecture = base + sum."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from ..arch_space.construct import build_choice
from ..arch_space.mixed_ops import MixedOp
from ..constraints import Shape as InputShape
from ..errors import SlotnasError
from ..params import Categorical, ParamSpace, TensorParam
from ..registry import component_options
from ..slot import Slot, find_slots
from .base import Metric, probe_forward, register_metric
from .onnx import OrtLatencyMetric

Shape = Tuple[int, ...]


@dataclass
class SlotContext:
    """A Slot with the input and output shapes it sees in the model (batch 1)."""

    slot: Slot
    in_shape: Shape
    out_shape: Shape

    def key(self, candidate: str) -> str:
        """Table key: (candidate, input shape, output shape, stride)."""
        fmt = lambda s: "x".join(map(str, s))  # noqa: E731
        return f"{candidate}|{fmt(self.in_shape)}|{fmt(self.out_shape)}|s{self.slot.stride}"

    def current(self) -> Optional[str]:
        """Candidate id the slot currently computes (a mixed op's chosen one), None if unknown."""
        entity = self.slot.entity
        return entity.chosen() if isinstance(entity, MixedOp) else self.slot.candidate


def slot_contexts(model: nn.Module, input_shape: Sequence[int]) -> List[SlotContext]:
    """Every outermost Slot with its input/output shapes, from one forward pass of zeros."""
    slots = find_slots(model)
    shapes: Dict[int, Tuple[Shape, Shape]] = {}

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        shapes.setdefault(id(module), (tuple(inputs[0].shape), tuple(output.shape)))

    hooks = [s.register_forward_hook(record) for s in slots]
    try:
        probe_forward(model, input_shape)
    finally:
        for h in hooks:
            h.remove()
    return [SlotContext(s, *shapes[id(s)]) for s in slots if id(s) in shapes]


def slot_options(ctx: SlotContext, space: ParamSpace) -> Dict[str, nn.Module]:
    """Candidate id -> module for every choice the slot can take."""
    entity = ctx.slot.entity
    if isinstance(entity, MixedOp):
        return dict(zip(entity.names, entity.candidates))
    name = ctx.slot.param_name
    if name in space and isinstance(space[name], Categorical):
        return {c: build_choice(c, ctx.slot) for c in space[name].choices}
    if ctx.slot.candidate is not None:
        return {ctx.slot.candidate: entity}
    return {}


class LatencyLUT:
    """Per-candidate latencies keyed by slot context, plus a base for everything outside the slots."""

    def __init__(self, entries: Optional[Dict[str, float]] = None, base_ms: float = 0.0,
                 meta: Optional[Dict[str, Any]] = None) -> None:
        self.entries: Dict[str, float] = dict(entries or {})
        self.base_ms = base_ms
        self.meta = dict(meta or {})

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, model: nn.Module, space: ParamSpace, input_shape: Sequence[int], profiler: OrtLatencyMetric,
              calibrate: int = 3, seed: int = 0) -> "LatencyLUT":
        """Time every candidate in every slot context once, then fit the base on sampled architectures."""
        lut = cls(meta={"input_shape": list(input_shape), "statistic": profiler.statistic,
                        "provider": profiler.provider, "threads": profiler.threads})
        contexts = slot_contexts(model, input_shape)
        for ctx in contexts:
            for cid, module in slot_options(ctx, space).items():
                key = ctx.key(cid)
                if key not in lut.entries:
                    onnx_bytes = profiler.exporter.export(module, ctx.in_shape[1:])
                    lut.entries[key] = profiler.measure(onnx_bytes)["latency_ms"]
        rng = random.Random(seed)
        residuals = []
        for i in range(calibrate):
            if i > 0 and space.discrete():
                space.update(space.sample(rng))
            measured = profiler.compute(model)["latency_ms"]
            residuals.append(measured - lut.sum_choices(contexts))
        lut.base_ms = sum(residuals) / len(residuals) if residuals else 0.0
        return lut

    # -- predicting -----------------------------------------------------------------------------
    def lookup(self, ctx: SlotContext, candidate: str) -> float:
        """The table entry of ``candidate`` in this slot context; a missing key raises naming it."""
        key = ctx.key(candidate)
        try:
            return self.entries[key]
        except KeyError:
            raise SlotnasError(f"latency table has no entry {key!r}; rebuild it with slotnas latency-table") from None

    def sum_choices(self, contexts: Sequence[SlotContext]) -> float:
        """Sum of the entries of the current choices."""
        return sum(self.lookup(ctx, ctx.current()) for ctx in contexts if ctx.current() is not None)

    def predict(self, contexts: Sequence[SlotContext]) -> float:
        """Predicted latency (ms) of the current architecture: base + sum of its choices."""
        return self.base_ms + self.sum_choices(contexts)

    def expected(self, contexts: Sequence[SlotContext]) -> torch.Tensor:
        """Differentiable expected latency: softmax(alpha)-weighted entries for mixed ops with alphas."""
        total: Any = torch.tensor(self.base_ms)
        for ctx in contexts:
            entity = ctx.slot.entity
            alpha = getattr(entity, "alpha", None)
            if isinstance(entity, MixedOp) and isinstance(alpha, TensorParam):
                table = torch.tensor([self.lookup(ctx, c) for c in entity.names], device=alpha.value.device)
                total = total.to(alpha.value.device) + (torch.softmax(alpha.value, -1) * table).sum()
            elif ctx.current() is not None:
                total = total + self.lookup(ctx, ctx.current())
        return total

    # -- storage --------------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Write the table as JSON."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"base_ms": self.base_ms, "meta": self.meta, "entries": self.entries}, fh, indent=1)

    @classmethod
    def load(cls, path: str) -> "LatencyLUT":
        """Read a table written by ``save``."""
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise SlotnasError(f"latency table {path!r} not found; "
                               "build it with: slotnas latency-table CONFIG") from None
        return cls(data["entries"], data["base_ms"], data.get("meta"))


@register_metric("latency_lut")
class LutLatencyMetric(Metric):
    """Latency predicted from a LatencyLUT JSON file (``latency_ms``); no export, microseconds per call."""

    def __init__(self, table: str, input_shape: Optional[InputShape] = None) -> None:
        super().__init__(input_shape)
        self.lut = LatencyLUT.load(table)
        self.input_shape = self.lut.meta.get("input_shape", input_shape)
        self._contexts: Optional[Tuple[int, List[SlotContext]]] = None

    def contexts(self, model: nn.Module) -> List[SlotContext]:
        """Slot contexts of ``model`` (slot shapes do not change with choices, so computed once)."""
        if self._contexts is None or self._contexts[0] != id(model):
            self._contexts = (id(model), slot_contexts(model, self.input_shape))
        return self._contexts[1]

    def compute(self, target: nn.Module) -> Dict[str, Any]:
        return {"latency_ms": round(self.lut.predict(self.contexts(target)), 4)}

    def expected(self, target: nn.Module) -> Dict[str, torch.Tensor]:
        """Differentiable expected latency (alpha-weighted table entries), for gradient methods."""
        return {"latency_ms": self.lut.expected(self.contexts(target))}


def latency_profiler(cfg: Dict[str, Any], input_shape: Sequence[int]) -> OrtLatencyMetric:
    """The onnxruntime profiler a config's latency metric describes (defaults if it has none)."""
    spec = next((m for m in cfg["metrics"] if m["type"] in ("latency", "ort_latency")), {"type": "latency"})
    options = component_options(spec)
    options.setdefault("input_shape", list(input_shape))
    return OrtLatencyMetric(**options)


def build_table_for_config(cfg: Dict[str, Any], samples: int = 20, seed: int = 0,
                           progress: bool = True) -> Tuple["LatencyLUT", float, int]:
    """Build the LUT of a validated config's space; return it with its MAPE on ``samples`` architectures."""
    from tqdm.auto import tqdm

    from ..data import build_data
    from ..runner import build_space

    data = build_data(cfg["data"])
    model, space = build_space(cfg, data.input_shape, data.num_classes)
    profiler = latency_profiler(cfg, data.input_shape)
    lut = LatencyLUT.build(model, space, profiler.input_shape, profiler, seed=seed)
    contexts = slot_contexts(model, profiler.input_shape)
    rng = random.Random(seed + 1)
    errors = []
    for _ in tqdm(range(samples), desc="MAPE", disable=not progress):
        if space.discrete():
            space.update(space.sample(rng))
        measured = profiler.compute(model)["latency_ms"]
        errors.append(abs(lut.predict(contexts) - measured) / measured)
    return lut, (sum(errors) / len(errors) if errors else 0.0), len(errors)
