"""Latency pipeline on the mobilenet_v2 space at 224: export+measure time, repeatability, LUT error, cache."""
from __future__ import annotations

import random
import statistics
import time

import torch
import torchvision

from slotnas import construct, slotify
from slotnas.metrics import LatencyLUT, LatencyMetric
from slotnas.metrics.lut import slot_contexts

SHAPE = (3, 224, 224)
CANDIDATES = [f"MB{k}E{e}" for k in (3, 5, 7) for e in (1, 3, 6)]


def main(n_new: int = 5, n_lut: int = 30) -> None:
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2()
    slotify(model, [{"type": "InvertedResidual", "exclude": "features.1"}])
    space = construct(model, [{"type": "mixed_op", "mixed": "index", "candidates": CANDIDATES}])
    latency = LatencyMetric(input_shape=SHAPE, repeats=50)
    rng = random.Random(0)
    print(f"slotnas bench_latency: mobilenet_v2 space ({len(space)} slots x 9 MBConv choices) at {SHAPE}, "
          f"onnxruntime CPU, 1 thread, statistic={latency.statistic}")

    times = []
    for _ in range(n_new):
        space.update(space.sample(rng))
        start = time.perf_counter()
        latency.compute(model)
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    print(f"export + measure per new architecture  {t:6.2f} s   (target <= 3 s) {'ok' if t <= 3 else 'MISSED'}")

    repeats = [latency.compute(model)["latency_ms"] for _ in range(5)]
    cv = statistics.pstdev(repeats) / statistics.fmean(repeats)
    print(f"CV over 5 measurements of one arch     {100 * cv:6.2f} % (target <= 5 %) {'ok' if cv <= 0.05 else 'MISSED'}"
          f"   [{', '.join(f'{r:.2f}' for r in repeats)} ms]")

    start = time.perf_counter()
    lut = LatencyLUT.build(model, space, SHAPE, latency, calibrate=3)
    build_s = time.perf_counter() - start
    contexts = slot_contexts(model, SHAPE)
    errors = []
    for _ in range(n_lut):
        space.update(space.sample(rng))
        measured = latency.compute(model)["latency_ms"]
        errors.append(abs(lut.predict(contexts) - measured) / measured)
    mape = statistics.fmean(errors)
    print(f"LUT MAPE on {n_lut} sampled architectures  {100 * mape:6.2f} % (target <= 10 %) "
          f"{'ok' if mape <= 0.10 else 'MISSED'}   [{len(lut.entries)} entries built in {build_s:.1f} s]")

    start = time.perf_counter()
    for _ in range(1000):
        lut.predict(contexts)
    print(f"LUT prediction                         {(time.perf_counter() - start):6.3f} ms per call")  # 1000 calls


if __name__ == "__main__":
    main()
