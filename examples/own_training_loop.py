"""Your own PyTorch training loop as the objective of an architecture search.

slotnas builds the searched network for each trial (here the default SlotCNN with its four slots) and
hands it to ``objective``; everything else is yours: the data, the loss, the optimizer, the loop, the
metrics. ``trial.report`` lets a multi-fidelity scheduler (ASHA here) stop hopeless architectures early.

    python examples/own_training_loop.py [--budget 16] [--epochs 4]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from slotnas.config import load_config, validate
from slotnas.runtime import run_search


def load_data(device: torch.device):
    """Digits as tensors: 1437 training and 360 validation images of 8x8 pixels."""
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(x), generator=generator)
    train, val = order[:1437], order[1437:]
    return (x[train].to(device), y[train].to(device)), (x[val].to(device), y[val].to(device))


def objective(trial) -> dict:
    """Train ``trial.model`` (this trial's architecture, fresh weights) with a plain loop; return metrics."""
    epochs = trial.hparams.get("epochs", 4)
    (x_train, y_train), (x_val, y_val) = load_data(trial.device)
    model = trial.model.to(trial.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=trial.hparams.get("lr", 3e-3), weight_decay=1e-4)
    accuracy = 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in torch.randperm(len(x_train)).split(64):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch], label_smoothing=0.1)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(1) == y_val).float().mean().item() * 100
        if trial.report(epoch, {"val_acc": accuracy}):  # ASHA says: not promising, stop here
            break
    return {"val_acc": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", default="runs")
    args = parser.parse_args()
    cfg = load_config(None, ["optim.type=TPE", f"run.budget={args.budget}", f"run.out={args.out}",
                             "run.retrain_epochs=0", "run.workers=1"])  # the embedded default space
    cfg = validate({**cfg, "estim": {"type": "Objective", "fn": objective, "steps": args.epochs},
                    "hparams": {"lr": {"type": "log_float", "low": 3e-4, "high": 1e-2, "default": 3e-3}},
                    "scheduler": {"type": "ASHA", "min_fidelity": 1, "eta": 2}})
    result = run_search(cfg)
    print(f"best: {result.best_arch} val_acc {result.best.metrics['val_acc']:.2f}; run folder {result.run_dir}")


if __name__ == "__main__":
    main()
