"""Memory of a training step: peak allocator bytes (for benchmarks) and the activations autograd keeps
(for ``slotnas describe``), measured at small batches and extrapolated to a batch size."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn


@contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence what native code prints to fd 2 (the profiler's 'profiler_start' lines); Python errors still raise."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def cpu_peak_bytes(step: Callable[[], None]) -> int:
    """Peak of the CPU allocator's live bytes during one ``step`` (profiler memory events in time order)."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    # self_ (not total) usage: a parent op's total repeats its children's allocations
    deltas = sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage)
    live = peak = 0
    for _, delta in deltas:
        live += delta
        peak = max(peak, live)
    return peak


def peak_memory_bytes(step: Callable[[], None], device: Optional[torch.device] = None) -> int:
    """Peak allocator memory of one ``step`` on ``device`` (default: CUDA when present): CUDA's counter on
    GPU, profiler allocation events on CPU."""
    cuda = torch.cuda.is_available() if device is None else device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    return cpu_peak_bytes(step)


def activation_bytes(model: nn.Module, input_shape: Sequence[int], num_classes: int, batch: int) -> int:
    """Bytes of distinct tensor storage autograd keeps for backward during one training forward of ``model``
    (train mode, every mixed op as configured) on a random batch: the activation memory of a step."""
    from .arch_space.export import module_device

    seen: Dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if not isinstance(t, nn.Parameter):  # weights are there anyway
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    state = {k: v.clone() for k, v in model.state_dict().items()}
    device = module_device(model)
    x, y = torch.randn(batch, *input_shape, device=device), torch.randint(0, num_classes, (batch,), device=device)
    was_training = model.training
    try:
        model.train()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            F.cross_entropy(model(x), y)
    finally:
        model.load_state_dict(state)  # BatchNorm statistics as they were
        model.train(was_training)
    return sum(seen.values())


def estimate_activation_bytes(model: nn.Module, input_shape: Sequence[int], num_classes: int, batch: int,
                              probes: Tuple[int, int] = (4, 8)) -> int:
    """Activation memory of one training step at ``batch``: measured when ``batch`` is no larger than the
    probes, else measured at the two probe batches and extrapolated linearly (it grows with the batch)."""
    if batch <= probes[1]:
        return activation_bytes(model, input_shape, num_classes, batch)
    small, large = (activation_bytes(model, input_shape, num_classes, b) for b in probes)
    per_sample = max(0.0, (large - small) / (probes[1] - probes[0]))
    return int(small + (batch - probes[0]) * per_sample)
