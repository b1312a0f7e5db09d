"""Process start to the first training step: ``slotnas search`` (default config) vs a hand-written script."""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

# Both children stop at their first optimizer step and print the wall-clock time.
STOP_AT_FIRST_STEP = """
import os, time, torch
_step = torch.optim.SGD.step
def _first_step(self, *a, **k):
    _step(self, *a, **k)
    print(time.time(), flush=True)
    os._exit(0)
torch.optim.SGD.step = _first_step
"""

SLOTNAS = STOP_AT_FIRST_STEP + """
import sys
from slotnas.cli import main
main(["search", "--out", sys.argv[1]])
"""

HAND = STOP_AT_FIRST_STEP + """
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

torch.manual_seed(0)
raw = load_digits()
x = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0
y = torch.tensor(raw.target)
idx = list(range(len(y)))
train, _ = train_test_split(idx, test_size=0.4, stratify=raw.target, random_state=0)
def cbr(i, o, s):
    return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU())
model = nn.Sequential(cbr(1, 16, 1), cbr(16, 16, 1), cbr(16, 32, 2), cbr(32, 32, 1), cbr(32, 64, 2),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
xb, yb = x[train[:64]], y[train[:64]]
opt.zero_grad()
F.cross_entropy(model(xb), yb).backward()
opt.step()
"""


def time_to_first_step(code: str, arg: str) -> float:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1]) - start


def main(repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours, hand = [], []
        for _ in range(repeats):
            ours.append(time_to_first_step(SLOTNAS, tmp))
            hand.append(time_to_first_step(HAND, tmp))
    t_ours, t_hand = statistics.median(ours), statistics.median(hand)
    added = t_ours - t_hand
    print("slotnas bench_startup: process start -> first training step (median of %d)" % repeats)
    print(f"slotnas search (default config) {t_ours:6.2f} s")
    print(f"hand-written script             {t_hand:6.2f} s")
    print(f"slotnas adds                    {added:6.2f} s (target <= 1.5 s) {'ok' if added <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
