"""Helpers shared by the benchmark scripts: interleaved timing and activation-memory probes."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List

import torch


def interleaved_median(fns: Dict[str, Callable[[], None]], repeats: int, warmup: int = 3) -> Dict[str, float]:
    """Median seconds per call of each function, calls interleaved A B A B ... to share drift."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def saved_activation_bytes(step: Callable[[], None]) -> int:
    """Bytes of distinct tensor storage autograd saves for backward during one call of ``step``."""
    seen: Dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    return sum(seen.values())


def peak_memory_bytes(step: Callable[[], None]) -> int:
    """Peak CUDA allocation of one ``step`` if on GPU, else the activation bytes saved for backward."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    return saved_activation_bytes(step)


def ratio_line(label: str, ours: float, theirs: float, unit: str, target: float) -> str:
    """One printed result line: both figures, their ratio and whether the target is met."""
    ratio = ours / theirs if theirs else float("inf")
    verdict = "ok" if ratio <= target else "MISSED"
    return f"{label:<44} slotnas {ours:10.3f} {unit:<3} hand {theirs:10.3f} {unit:<3} ratio {ratio:5.3f} (target <= {target}) {verdict}"
