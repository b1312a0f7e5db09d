"""Elastic mobilenet_v2 (MobileNetV2-Elastic: expansion 1/3/6, 1-4 blocks per stage): the cost of switching to a
random sub-network through events and handlers, and the forward time of the elastic network at a setting vs
the plain narrow network ``fix`` exports for it (and, at the full setting, vs the unmodified model).

Run: python benchmarks/bench_elastic.py
"""
from __future__ import annotations

import random
import statistics
import time

import torch
import torchvision

from common import interleaved_median, ratio_line
from slotnas.arch_space.elastic import apply_elastic
from slotnas.arch_space.export import fix
from slotnas.params import ParamSpace

RULES = [{"type": "width", "name": "features.*.conv.0.0", "expand_ratio": [1, 3, 6]},
         {"type": "depth", "block": "InvertedResidual", "choices": [1, 2, 3, 4]}]


def elastic_mbv2():
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(num_classes=10).eval()
    space = ParamSpace()
    apply_elastic(model, RULES, space, (3, 224, 224))
    return model, space


def bench_switch(space: ParamSpace) -> str:
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(500)]
    times = []
    for arch in archs:
        start = time.perf_counter()
        space.update(arch)
        times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1e3
    verdict = "ok" if ms <= 1.0 else "MISSED"
    return (f"{'switch to a random sub-network (21 params)':<44} {ms:.3f} ms median, "
            f"p90 {sorted(times)[449] * 1e3:.3f} ms (target <= 1 ms) {verdict}")


def bench_forward(model, space, arch, label: str, batch: int, size: int) -> str:
    space.update(arch)
    narrow = fix(model).eval()
    x = torch.randn(batch, 3, size, size)

    def ours() -> None:
        with torch.no_grad():
            model(x)

    def plain() -> None:
        with torch.no_grad():
            narrow(x)

    t = interleaved_median({"ours": ours, "plain": plain}, repeats=15)
    return ratio_line(label, t["ours"] * 1e3, t["plain"] * 1e3, "ms", 1.10, names=("elastic", "narrow"))


def main() -> None:
    torch.set_num_threads(2)
    model, space = elastic_mbv2()
    print(bench_switch(space))
    full = {p.name: p.default for p in space}
    original = torchvision.models.mobilenet_v2(num_classes=10).eval()
    x = torch.randn(16, 3, 128, 128)
    space.update(full)
    with torch.no_grad():
        t = interleaved_median({"ours": lambda: model(x), "plain": lambda: original(x)}, repeats=15)
        print(ratio_line("forward, full setting vs unmodified (b16 128px)", t["ours"] * 1e3, t["plain"] * 1e3, "ms",
                         1.10, names=("elastic", "original")))
        middle = {**full, **{n: 3 for n in space.names() if n.endswith("expand_ratio")},
                  **{n: 2 for n in space.names() if n.endswith("depth")}}
        print(bench_forward(model, space, middle, "forward, expand 3, depth 2 (b16 128px)", 16, 128))
        smallest = {p.name: min(p.choices) for p in space}
        print(bench_forward(model, space, smallest, "forward, smallest (b16 128px)", 16, 128))
        print(bench_forward(model, space, space.sample(random.Random(3)), "forward, random setting (b16 128px)", 16, 128))
        print(bench_forward(model, space, middle, "forward, expand 3, depth 2 (b1 224px)", 1, 224))


if __name__ == "__main__":
    main()
