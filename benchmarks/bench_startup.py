"""Process start to the first training step: ``slotnas search`` (default config) vs a hand-written script."""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# Every Python process started with this folder on PYTHONPATH (the search, its spawned workers, the
# hand-written script) prints the wall-clock time at its first SGD step; the first line ends the run.
SITECUSTOMIZE = """
import builtins, time
_import = builtins.__import__
def _patching_import(name, *args, **kwargs):
    module = _import(name, *args, **kwargs)
    if name == "torch" and not getattr(builtins, "_slotnas_patched", False) and hasattr(module, "optim"):
        builtins._slotnas_patched = True
        step = module.optim.SGD.step
        def first_step(self, *a, **k):
            out = step(self, *a, **k)
            print(time.time(), flush=True)
            return out
        module.optim.SGD.step = first_step
    return module
builtins.__import__ = _patching_import
"""

SLOTNAS = """
import sys
from slotnas.cli import main
main(["search", "--out", sys.argv[1], *sys.argv[2:]])
"""

HAND = """
import torch
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


def time_to_first_step(code: str, tmp: str, *args: str) -> float:
    """Seconds from starting ``code`` to the first SGD step in any of its processes (which are then killed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, os.environ.get("PYTHONPATH", "")])}
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-c", code, os.path.join(tmp, "runs"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, start_new_session=True)
    line = proc.stdout.readline()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return float(line) - start


def main(repeats: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "sitecustomize.py"), "w") as fh:
            fh.write(SITECUSTOMIZE)
        ours, one, hand = [], [], []
        for _ in range(repeats):  # interleaved, so machine load drifts alike for all three
            ours.append(time_to_first_step(SLOTNAS, tmp))
            one.append(time_to_first_step(SLOTNAS, tmp, "--set", "run.workers=1"))
            hand.append(time_to_first_step(HAND, tmp))
    t_ours, t_one, t_hand = statistics.median(ours), statistics.median(one), statistics.median(hand)
    print("slotnas bench_startup: process start -> first training step (median of %d)" % repeats)
    print(f"slotnas search (default: workers auto) {t_ours:6.2f} s  (spawned workers build the space themselves)")
    print(f"slotnas search --set run.workers=1     {t_one:6.2f} s")
    print(f"hand-written script                    {t_hand:6.2f} s")
    for label, value in (("default", t_ours), ("workers=1", t_one)):
        added = value - t_hand
        print(f"slotnas {label:<9} adds {added:6.2f} s (target <= 1.5 s) {'ok' if added <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
