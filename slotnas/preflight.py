"""Checks before the first trial: the default architecture runs on a real batch, every candidate of every
mixed op fits its slot (one forward each on the slot's real input), every metric computes once."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import nn

from .arch_space.export import module_device
from .arch_space.mixed_ops import MixedOp
from .data import DataBundle
from .errors import blame
from .metrics.base import Metric, probe_forward
from .registry import component_options
from .slot import Slot, find_slots

log = logging.getLogger("slotnas")


def preflight(model: nn.Module, data: DataBundle, metrics: Sequence[Metric] = (),
              metric_specs: Sequence[Dict[str, Any]] = ()) -> List[str]:
    """Run the checks; a default architecture that fails on the data, or a metric's own input_shape that
    does not fit the model, stops with one line (nothing depends on which architecture is chosen there);
    a candidate that does not fit its slot is a warning (only the architectures that choose it will fail),
    and so is a metric that fails on the default architecture (whether that depends on the architecture
    shows later: FailureGuard ends a run whose metric never succeeded with an error). Returns the warnings."""
    inputs: Dict[str, torch.Tensor] = {}
    outputs: Dict[str, Tuple[int, ...]] = {}
    hooks = []
    for slot in find_slots(model):
        if isinstance(slot.entity, MixedOp):
            hooks.append(slot.register_forward_hook(_capture(slot, inputs, outputs)))
    x, _ = next(iter(data.train))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), blame(f"model: the default architecture does not run on a batch of the data "
                                    f"(input {list(x.shape[1:])})"):
            model(x[:2].to(module_device(model)))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    check_metric_shapes(metric_specs, model, data.input_shape)
    return _check_candidates(model, inputs, outputs) + _check_metrics(model, metrics)


def check_metric_shapes(specs: Sequence[Dict[str, Any]], model: nn.Module, data_shape: Sequence[int]) -> None:
    """A metric's own input_shape must fit the model: one probe forward before any work, so a wrong
    shape stops the run with one line instead of failing that metric on every architecture."""
    for i, spec in enumerate(specs):
        shape = component_options(spec).get("input_shape")
        if shape is not None and list(shape) != list(data_shape):
            with blame(f"metrics[{i}] ({spec['type']}).input_shape {list(shape)} does not fit the model "
                       f"(the data's is {list(data_shape)})"):
                probe_forward(model, shape)


def _check_metrics(model: nn.Module, metrics: Sequence[Metric]) -> List[str]:
    warnings = []
    for i, metric in enumerate(metrics):
        try:
            metric.compute(model)
        except Exception as exc:  # reported, not raised: it may depend on the default architecture
            warnings.append(f"slotnas: warning: metrics[{i}] ({type(metric).__name__}) fails on the default "
                            f"architecture ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})")
            log.warning(warnings[-1])
    return warnings


def _capture(slot: Slot, inputs: Dict[str, torch.Tensor], outputs: Dict[str, Tuple[int, ...]]):  # type: ignore[no-untyped-def]
    def hook(module: nn.Module, args: Tuple, output: torch.Tensor) -> None:
        if args and isinstance(args[0], torch.Tensor) and isinstance(output, torch.Tensor):
            inputs.setdefault(slot.name, args[0].detach())
            outputs.setdefault(slot.name, tuple(output.shape))
    return hook


def _check_candidates(model: nn.Module, inputs: Dict[str, torch.Tensor],
                      outputs: Dict[str, Tuple[int, ...]]) -> List[str]:
    warnings: List[str] = []
    with torch.no_grad():
        for slot in find_slots(model):
            if slot.name not in inputs:
                continue
            op = slot.entity
            for name, candidate in zip(op.names, op.candidates):
                was_training = candidate.training
                try:
                    candidate.eval()
                    shape = tuple(op.on_channels(inputs[slot.name], candidate).shape)  # as the op runs it
                    problem = None if shape == outputs[slot.name] else \
                        f"gives shape {list(shape[1:])}, the slot needs {list(outputs[slot.name][1:])}"
                except Exception as exc:  # any failure of the candidate's own code is this candidate's
                    problem = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
                finally:
                    candidate.train(was_training)
                if problem:
                    warnings.append(f"slotnas: warning: candidate {name} does not fit slot {slot.name} ({problem}); "
                                    "architectures that choose it will fail")
    for line in warnings[:10]:
        log.warning(line)
    if len(warnings) > 10:
        log.warning("slotnas: warning: ... and %d more candidate(s) that do not fit their slots", len(warnings) - 10)
    return warnings
