"""Core overheads, measured side by side: supernet step, update events, slotify+construct, nested updates."""
from __future__ import annotations

import copy
import os
import sys
import time

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from common import interleaved_median, peak_memory_bytes, ratio_line  # noqa: E402
from hand_ops import copy_weights, hand_candidates  # noqa: E402

from slotnas import Slot, construct, slotify  # noqa: E402
from slotnas.arch_space import ops  # noqa: E402

CANDIDATES = ["NC3", "SC3", "SC5", "AVG3", "IDT"]
LAYOUT = [(16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 32, 1), (32, 64, 2), (64, 64, 1), (64, 64, 1), (64, 64, 1)]


class SlotCNN(nn.Module):
    """A small CNN with 8 Slots."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.cells = nn.Sequential(*[Slot(i, o, s) for i, o, s in LAYOUT])
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)).mean((2, 3)))


class HandMixed(nn.Module):
    """The same DARTS mixed op written directly in PyTorch."""

    def __init__(self, candidates: list) -> None:
        super().__init__()
        self.ops = nn.ModuleList(candidates)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        out = None
        for w, op in zip(weights.unbind(0), self.ops):
            y = op(x)
            out = y * w if out is None else torch.addcmul(out, y, w)
        return out


class HandCNN(nn.Module):
    """The same supernet with one (8, 5) alpha tensor, written by hand (plain torch candidates from
    hand_ops, no slotnas module), with ``source``'s weights."""

    def __init__(self, source: SlotCNN) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.cells = nn.ModuleList(HandMixed(hand_candidates(CANDIDATES, i, o, s)) for i, o, s in LAYOUT)
        self.head = nn.Linear(64, 10)
        copy_weights(source, self)

    def forward(self, x: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
        weights = F.softmax(alphas, dim=-1)
        x = self.stem(x)
        for cell, w in zip(self.cells, weights.unbind(0)):
            x = cell(x, w)
        return self.head(x.mean((2, 3)))


def bench_supernet(device: torch.device) -> list:
    torch.manual_seed(0)
    ours = SlotCNN()
    space = construct(ours, [{"type": "mixed_op", "candidates": CANDIDATES}])
    ours.to(device)
    alphas = space.tensors()
    for a in alphas:
        a.data = a.data.to(device)
    hand = HandCNN(copy.deepcopy(ours)).to(device)
    hand_alpha = nn.Parameter(torch.stack([a.detach().clone() for a in alphas]))
    x = torch.randn(64, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (64,), device=device)
    opt_ours = torch.optim.SGD(list(ours.parameters()) + alphas, lr=0.01, momentum=0.9)
    opt_hand = torch.optim.SGD(list(hand.parameters()) + [hand_alpha], lr=0.01, momentum=0.9)

    def step_ours() -> None:
        opt_ours.zero_grad(set_to_none=True)
        F.cross_entropy(ours(x), y).backward()
        opt_ours.step()

    def step_hand() -> None:
        opt_hand.zero_grad(set_to_none=True)
        F.cross_entropy(hand(x, hand_alpha), y).backward()
        opt_hand.step()

    t = interleaved_median({"ours": step_ours, "hand": step_hand}, repeats=30)
    mem_ours, mem_hand = peak_memory_bytes(step_ours), peak_memory_bytes(step_hand)
    return [
        ratio_line("(a) WeightedSum train step, 8 slots x 5 cands", t["ours"] * 1e3, t["hand"] * 1e3, "ms", 1.05),
        ratio_line("(a) peak memory of one step", mem_ours / 2**20, mem_hand / 2**20, "MiB", 1.05),
    ]


def bench_updates() -> str:
    model = SlotCNN()
    space = construct(model, [{"type": "categorical", "candidates": ["NC3", "SC3", "IDT"]}])
    names = space.names()
    values = ["SC3", "NC3"]
    for name in names:  # build every candidate once so the loop measures switching, not building
        space.update({name: "SC3"})
        space.update({name: "NC3"})
    batches = [{names[i % len(names)]: values[(i // len(names)) % 2]} for i in range(100)]
    fired = []
    space.on_update(*names, mode="any")(lambda *ps: fired.append(1))
    runs = []
    reset = {name: "NC3" for name in names}
    for _ in range(20):
        start = time.perf_counter()
        for batch in batches:
            space.update(batch)
        runs.append(time.perf_counter() - start)
        fired_in_run = len(fired)
        space.update(reset)
        del fired[fired_in_run:]
    assert len(fired) == 20 * 100, "every update must change a value and fire"
    runs.sort()
    return f"{'(b) 100 updates with set_entity handlers':<44} {runs[len(runs) // 2] * 1e3:.3f} ms (target <= 1 ms)"


def bench_construct() -> str:
    rules = [{"type": "Conv2d", "attrs": {"kernel_size": 3}}]
    chain = [{"type": "mixed_op", "candidates": ["ORIG", "NC3", "SC3"]}]

    def ours() -> None:
        model = torchvision.models.resnet50()
        slotify(model, rules)
        construct(model, chain)

    def plain() -> None:
        model = torchvision.models.resnet50()
        for name, m in list(model.named_modules()):
            if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                s = m.stride[0]
                mixed = nn.ModuleList([m, ops.ConvBNReLU(m.in_channels, m.out_channels, 3, s),
                                       ops.SepConv(m.in_channels, m.out_channels, 3, s)])
                parent, _, attr = name.rpartition(".")
                setattr(model.get_submodule(parent), attr, mixed)
                nn.Parameter(torch.randn(3) * 1e-3)

    t = interleaved_median({"ours": ours, "plain": plain}, repeats=7, warmup=1)
    return ratio_line("(c) resnet50 slotify+construct, 3 cands", t["ours"], t["plain"], "s", 1.2)


def bench_hierarchical() -> str:
    """Switching the Liu hierarchical space (55 nested parameters) to a random architecture, once every
    candidate a sample needs was built: the event path for nested Slots."""
    import random

    import yaml

    from slotnas.arch_space.templates import build_template
    from slotnas.config import DEFAULT_CONFIG

    with open(DEFAULT_CONFIG.replace("default.yaml", "hierarchical_liu.yaml")) as fh:
        spec = yaml.safe_load(fh)["template"]
    model = build_template(spec, (3, 32, 32), 10)
    space = construct(model, [{"type": "categorical"}])
    rng = random.Random(0)
    samples = [space.sample(rng) for _ in range(100)]
    for sample in samples:  # build what the samples need
        space.update(sample)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for sample in samples:
            space.update(sample)
        runs.append((time.perf_counter() - start) / len(samples))
    runs.sort()
    return f"{'(d) Liu hierarchical switch, 55 nested params':<44} {runs[2] * 1e3:.3f} ms (target <= 5 ms)"


def main() -> None:
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"slotnas bench_core on {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    if device.type == "cpu":
        print("memory: peak live CPU allocator bytes over one step (torch.profiler memory events)")
    for line in bench_supernet(device):
        print(line)
    print(bench_updates())
    print(bench_construct())
    print(bench_hierarchical())


if __name__ == "__main__":
    main()
