"""One-shot supernet steps (arch step on a val batch + weight step) vs the same supernets written by hand."""
from __future__ import annotations

import copy
import functools
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from bench_core import CANDIDATES, LAYOUT, SlotCNN  # noqa: E402
from common import interleaved_median, peak_memory_bytes, ratio_line  # noqa: E402
from hand_ops import copy_weights, hand_candidates  # noqa: E402

from slotnas import construct  # noqa: E402
from slotnas.arch_space import MixedOp  # noqa: E402
from slotnas.optim import OPTIMIZERS  # noqa: E402
from slotnas.optim.gradient import ArchBatch  # noqa: E402

METHODS = {"DARTS": "weighted_sum", "GDAS": "gumbel", "ProxylessNAS": "binary_gate"}


class HandSupernet(nn.Module):
    """The same supernet by hand: one (8, 5) alpha tensor, the mixed op of each method inlined."""

    def __init__(self, source: SlotCNN, method: str, alphas: torch.Tensor) -> None:
        super().__init__()
        self.method = method
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.cells = nn.ModuleList(hand_candidates(CANDIDATES, i, o, s) for i, o, s in LAYOUT)  # plain torch
        self.head = nn.Linear(64, 10)
        copy_weights(source, self)
        self.alphas = alphas  # kept out of self.parameters(), like slotnas
        self.tau, self.n_paths = 1.0, 2
        self.pairs: list = []  # ProxylessNAS: (row, pair) sampled by the last arch forward

    def mixed(self, ops: nn.ModuleList, alpha: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.method == "DARTS":
            out = None
            for w, op in zip(F.softmax(alpha, -1).unbind(0), ops):
                y = op(x)
                out = y * w if out is None else torch.addcmul(out, y, w)
            return out
        if self.method == "GDAS":
            w = F.gumbel_softmax(alpha, tau=self.tau, hard=True)
            i = int(w.detach().argmax())
            return ops[i](x) * w[i] + (w.sum() - w[i])
        probs = F.softmax(alpha, -1)  # ProxylessNAS
        if self.n_paths == 1:
            return ops[int(torch.multinomial(probs.detach(), 1))](x)
        pair = torch.multinomial(probs.detach(), 2, replacement=False)
        self.pairs.append(pair)
        p2 = F.softmax(alpha[pair], -1)
        k = int(torch.multinomial(p2.detach(), 1))
        gates = F.one_hot(torch.tensor(k), 2).to(p2) - p2.detach() + p2
        y = ops[int(pair[k])](x)
        with torch.no_grad():
            other = ops[int(pair[1 - k])](x)
        return y * gates[k] + other * gates[1 - k]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for ops, alpha in zip(self.cells, self.alphas.unbind(0)):
            x = self.mixed(ops, alpha, x)
        return self.head(x.mean((2, 3)))


def one_shot_step(net: nn.Module, optimizer, w_opt, val: tuple, train: tuple, weights: list) -> None:  # type: ignore[no-untyped-def]
    """One slotnas one-shot step: an architecture step on ``val``, then a weight step on ``train``."""
    (xv, yv), (xt, yt) = val, train
    optimizer.arch_mode()
    optimizer.arch_step(ArchBatch(val_loss=lambda: F.cross_entropy(net(xv), yv),
                                  train_loss=lambda: F.cross_entropy(net(xt), yt), weights=weights))
    optimizer.weight_mode()
    w_opt.zero_grad(set_to_none=True)
    F.cross_entropy(net(xt), yt).backward()
    w_opt.step()


def steps_for(method: str, device: torch.device) -> dict:
    torch.manual_seed(0)
    ours = SlotCNN()
    space = construct(ours, [{"type": "mixed_op", "mixed": METHODS[method], "candidates": CANDIDATES}])
    ours.to(device)
    for a in space.tensors():
        a.data = a.data.to(device)
    optimizer = OPTIMIZERS.get(method)(space)
    optimizer.prepare([(n, m) for n, m in ours.named_modules() if isinstance(m, MixedOp)])
    optimizer.on_epoch(0, 1)
    hand_alphas = nn.Parameter(torch.stack([a.detach().clone() for a in space.tensors()]))
    hand = HandSupernet(copy.deepcopy(ours), method, hand_alphas).to(device)
    adam = {k: optimizer.arch_opt.defaults[k] for k in ("lr", "betas", "weight_decay")}
    hand_arch = torch.optim.Adam([hand_alphas], **adam)
    w_ours = torch.optim.SGD(ours.parameters(), lr=0.025, momentum=0.9)
    w_hand = torch.optim.SGD(hand.parameters(), lr=0.025, momentum=0.9)
    xt, yt = torch.randn(64, 3, 32, 32, device=device), torch.randint(0, 10, (64,), device=device)
    xv, yv = torch.randn(64, 3, 32, 32, device=device), torch.randint(0, 10, (64,), device=device)
    weights = list(ours.parameters())

    def step_ours() -> None:
        one_shot_step(ours, optimizer, w_ours, (xv, yv), (xt, yt), weights)

    def step_hand() -> None:
        hand.n_paths, hand.pairs = 2, []
        hand_arch.zero_grad(set_to_none=True)
        F.cross_entropy(hand(xv), yv).backward()
        before = hand_alphas.detach().clone() if method == "ProxylessNAS" else None
        hand_arch.step()
        if before is not None:  # rescale the sampled pair so the other paths keep their probability
            with torch.no_grad():
                for row, pair in enumerate(hand.pairs):
                    old, new = before[row, pair], hand_alphas[row, pair]
                    hand_alphas[row, pair] += torch.logsumexp(old, 0) - torch.logsumexp(new, 0)
        hand.n_paths = 1
        w_hand.zero_grad(set_to_none=True)
        F.cross_entropy(hand(xt), yt).backward()
        w_hand.step()

    # Both sides start equal and draw the same seed before each step, so they sample the same paths
    # and stay identical: the comparison is like for like, not luck of the sampled candidates.
    t = interleaved_median({"ours": step_ours, "hand": step_hand}, repeats=40, warmup=0,
                           before_each=torch.manual_seed)
    torch.manual_seed(1)
    mem_ours = peak_memory_bytes(step_ours)
    torch.manual_seed(1)
    mem_hand = peak_memory_bytes(step_hand)
    return {"time": (t["ours"] * 1e3, t["hand"] * 1e3), "memory": (mem_ours / 2**20, mem_hand / 2**20)}


LEAN = {"checkpoint: true": {"checkpoint": True}, "partial_channels: 4": {"partial_channels": 4},
        "both": {"checkpoint": True, "partial_channels": 4}, "plain": {}}
KEEPS_CHANNELS = "cells.[0235-7]"  # the slots partial channels apply to; cells.1 and cells.4 widen


def lean_vs_plain(device: torch.device) -> dict:
    """A DARTS step of the same supernet with ``checkpoint: true`` mixed ops, with ``partial_channels: 4``
    (PC-DARTS, on the 6 slots that keep their channels), with both and with plain ones."""
    steps = {}
    for variant, options in LEAN.items():
        torch.manual_seed(0)
        net = SlotCNN()
        step = {"type": "mixed_op", "mixed": "weighted_sum", "candidates": CANDIDATES, **options}
        widening = {k: v for k, v in step.items() if k != "partial_channels"}
        space = construct(net, [{**step, "slots": KEEPS_CHANNELS}, widening])
        net.to(device)
        for a in space.tensors():
            a.data = a.data.to(device)
        darts = OPTIMIZERS.get("DARTS")(space)
        darts.prepare([(n, m) for n, m in net.named_modules() if isinstance(m, MixedOp)])
        w_opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9)
        batch = (torch.randn(64, 3, 32, 32, device=device), torch.randint(0, 10, (64,), device=device))
        steps[variant] = functools.partial(one_shot_step, net, darts, w_opt, batch, batch, list(net.parameters()))
    t = interleaved_median(steps, repeats=20, warmup=1)
    return {variant: (t[variant] * 1e3, peak_memory_bytes(steps[variant]) / 2**20) for variant in steps}


def main() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"slotnas bench_oneshot on {device}: SlotCNN, 8 slots x 5 candidates, batch 64 at 32x32; "
          "one step = arch step (val batch) + weight step (train batch)")
    if device.type == "cpu":
        print("memory: peak live CPU allocator bytes over one step (torch.profiler memory events)")
    for method in METHODS:
        figures = steps_for(method, device)
        print(ratio_line(f"{method} supernet step", *figures["time"], "ms", 1.05))
        print(ratio_line(f"{method} memory", *figures["memory"], "MiB", 1.05))
    lean = lean_vs_plain(device)  # the same slotnas supernet with memory options and without
    for variant in ("checkpoint: true", "partial_channels: 4", "both"):
        for i, (what, unit, target) in enumerate((("step", "ms", 1.3), ("memory", "MiB", 0.4))):
            print(ratio_line(f"DARTS {what}, {variant} vs plain", lean[variant][i], lean["plain"][i], unit, target,
                             names=("lean", "plain")))


if __name__ == "__main__":
    main()
