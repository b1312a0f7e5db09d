"""Helpers shared by the benchmark scripts: interleaved timing, ratio lines, and slotnas.memory's peak probes."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List, Optional

from slotnas.memory import cpu_peak_bytes, peak_memory_bytes  # the memory figures (profiler output silenced)

__all__ = ["cpu_peak_bytes", "peak_memory_bytes", "interleaved_median", "ratio_line"]


def interleaved_median(fns: Dict[str, Callable[[], None]], repeats: int, warmup: int = 3,
                       before_each: Optional[Callable[[int], None]] = None) -> Dict[str, float]:
    """Median seconds per call of each function, calls interleaved A B A B ... to share drift.

    ``before_each(i)`` runs untimed before every call of repeat ``i`` (e.g. the same seed for all).
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for i in range(repeats):
        for name, fn in fns.items():
            if before_each is not None:
                before_each(i)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def ratio_line(label: str, ours: float, theirs: float, unit: str, target: float,
               names: tuple = ("slotnas", "hand")) -> str:
    """One printed result line: both figures, their ratio and whether the target is met."""
    ratio = ours / theirs if theirs else float("inf")
    verdict = "ok" if ratio <= target else "MISSED"
    return (f"{label:<44} {names[0]} {ours:10.3f} {unit:<3} {names[1]} {theirs:10.3f} {unit:<3} "
            f"ratio {ratio:5.3f} (target <= {target}) {verdict}")
