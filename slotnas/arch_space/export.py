"""Export: resolve every Slot and mixed op to its chosen module, giving a plain nn.Module."""
from __future__ import annotations

import copy
import io
import itertools
import warnings
from typing import Any, Dict, Iterator, Sequence, Union

import torch
from torch import nn

from ..slot import Slot
from .mixed_ops import MixedOp


def module_device(module: nn.Module) -> torch.device:
    """Device of the module's first parameter (else buffer); CPU when it has neither."""
    first = next(itertools.chain(module.parameters(), module.buffers()), None)
    return first.device if first is not None else torch.device("cpu")


def active(module: nn.Module) -> nn.Module:
    """What ``module`` currently computes: a Slot's entity, a mixed op's chosen candidate, or what any
    module with ``to_fixed()`` (e.g. a template's cell node) resolves to."""
    while True:
        if isinstance(module, Slot):
            module = module.entity
        elif isinstance(module, MixedOp) or hasattr(module, "to_fixed"):
            module = module.to_fixed()
        else:
            return module


def _resolve(module: nn.Module) -> nn.Module:
    module = active(module)
    children = {name: (_resolve(c) if c is not None else None) for name, c in module._modules.items()}
    if all(children[name] is child for name, child in module._modules.items()):
        return module
    clone = copy.copy(module)  # shallow: only the child table differs; deep-copied below
    clone._modules = children
    return clone


def fix(model: nn.Module) -> nn.Module:
    """A deep copy of the current architecture with no Slot or mixed op left (weights included)."""
    return copy.deepcopy(_resolve(model))


def iter_active(module: nn.Module) -> Iterator[nn.Module]:
    """Every module of the current architecture once, skipping Slots, mixed ops and unchosen candidates."""
    module = active(module)
    yield module
    for child in module._modules.values():
        if child is not None:
            yield from iter_active(child)


def to_onnx(model: nn.Module, input_shape: Sequence[int], f: Union[str, io.BytesIO], opset: int = 17,
            dynamic_batch: bool = False) -> None:
    """Export a fixed model to ONNX (TorchScript exporter: ~10x faster than dynamo here), checked by onnx.

    ``dynamic_batch``: the batch axis of input and output is symbolic, so the file runs at any batch size.
    """
    model = model.eval()
    example = torch.randn(1, *input_shape, device=module_device(model))
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks are constant per input size
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is chosen on purpose
        warnings.filterwarnings("ignore", message="Constant folding")  # strided slices (Zero) stay unfolded
        torch.onnx.export(model, (example,), f, dynamo=False, opset_version=opset,
                          input_names=["input"], output_names=["output"], dynamic_axes=axes)
    import onnx

    onnx.checker.check_model(f if isinstance(f, str) else f.getvalue())


def to_program(model: nn.Module, input_shape: Sequence[int], path: str) -> None:
    """Save a fixed model as a ``torch.export`` program (``.pt2``, any batch size): it loads and runs with
    torch alone (``torch.export.load(path).module()``), no slotnas and no model code needed."""
    model = model.eval()
    example = torch.randn(2, *input_shape, device=module_device(model))  # 2: a batch of 1 would specialize
    batch = torch.export.Dim("batch", min=1, max=65536)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    buffer = io.BytesIO()  # via a buffer: torch.export.save wants a name ending in .pt2, atomic writes use temps
    torch.export.save(program, buffer)
    with open(path, "wb") as fh:
        fh.write(buffer.getvalue())


def apply_arch(model: nn.Module, space: Any, arch: Dict[str, Any]) -> None:
    """Set ``space`` to ``arch``: a value per discrete parameter and, for a mixed op's alphas, the chosen
    candidate's name (one-hot logits). Alphas ``arch`` leaves out choose their zero candidate (e.g.
    ``none``: the edges a DARTS genotype does not list). Unknown names are one-line errors."""
    from ..errors import SlotnasError
    from ..params import TensorParam
    from ..registry import unknown_name_message

    alpha_ops = {op.alpha.name: op for op in model.modules()
                 if isinstance(op, MixedOp) and isinstance(getattr(op, "alpha", None), TensorParam)}
    names = space.names()
    for key in arch:
        if key not in names:
            raise SlotnasError("arch: " + unknown_name_message("parameter", key, names))
    values: Dict[str, Any] = {k: v for k, v in arch.items() if k not in alpha_ops}
    for name, op in alpha_ops.items():
        choice = arch.get(name)
        if choice is None:
            zeros = [i for i, zero in enumerate(op._is_zero) if zero]
            if not zeros:
                raise SlotnasError(f"arch: {name} is missing (its candidates have no zero op to default to)")
            index = zeros[0]
        elif choice in op.names:
            index = op.names.index(choice)
        else:
            raise SlotnasError(f"arch: {name}: " + unknown_name_message("candidate", choice, op.names))
        logits = torch.zeros(len(op.names))
        logits[index] = 10.0
        values[name] = logits
    space.update(values)
