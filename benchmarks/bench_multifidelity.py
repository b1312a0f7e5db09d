"""Multi-fidelity on the default digits space: best validation accuracy against total epochs trained,
RandomSearch at full fidelity vs ASHA, Hyperband and BOHB (TPE proposer) given a third of its epochs or
all of them (scheduler.fidelity_budget; promoted trials continue from checkpoints), median over seeds, all
measured in this run. Target: ASHA within 0.5 points of random search's final best with
at most a third of its epochs.

Run: python benchmarks/bench_multifidelity.py [--seeds 5]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
from typing import Any, Dict, Optional, Tuple

import yaml

from slotnas.config import DEFAULT_CONFIG, validate
from slotnas.runtime import run_search
from slotnas.store import TrialStore
from slotnas.trials import TrialState

EPOCHS = 9


def config(out: str, seed: int, budget: int, scheduler: Optional[Dict[str, Any]] = None,
           optim: str = "RandomSearch") -> Dict[str, Any]:
    with open(DEFAULT_CONFIG) as fh:
        cfg = yaml.safe_load(fh)
    cfg["optim"] = {"type": optim, **({"n_initial": 5} if optim == "TPE" else {})}
    cfg["estim"] = {"type": "SubNetEstim", "epochs": EPOCHS}
    cfg["trainer"]["epochs"] = EPOCHS
    cfg["run"].update(out=out, seed=seed, budget=budget, progress=False, export_onnx=False, retrain_epochs=0,
                      workers=1)
    if scheduler:
        cfg["scheduler"] = scheduler
    return cfg


def run(out: str, seed: int, budget: int, scheduler: Optional[Dict[str, Any]] = None,
        optim: str = "RandomSearch") -> Tuple[float, int]:
    """(best full-fidelity val_acc, epochs trained in total) of one search."""
    result = run_search(validate(config(out, seed, budget, scheduler, optim)))
    store = TrialStore(result.run_dir)
    if scheduler is None:
        epochs = EPOCHS * len(result.trials)
    else:  # a promoted trial continues: its cost is the highest rung it reached
        epochs = sum(int(max(store.rung_results(t.index), default=0)) for t in result.trials)
    best = max((t.metrics["val_acc"] for t in result.trials if t.state is TrialState.COMPLETE), default=float("nan"))
    return best, epochs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=12, help="architectures of the full-fidelity random search")
    args = parser.parse_args()
    full = args.budget * EPOCHS
    third = full // 3
    many = 10 * args.budget  # the architecture cap of the epoch-budgeted runs: never the binding limit
    methods = {f"RandomSearch, {args.budget} x {EPOCHS} epochs": (args.budget, None, "RandomSearch")}
    for epochs in (third, full):
        methods[f"ASHA, {epochs} epochs"] = (many, {"type": "ASHA", "eta": 3, "fidelity_budget": epochs},
                                             "RandomSearch")
        methods[f"ASHA + TPE, {epochs} epochs"] = (many, {"type": "ASHA", "eta": 3, "fidelity_budget": epochs},
                                                   "TPE")
        methods[f"Hyperband, {epochs} epochs"] = (many, {"type": "Hyperband", "eta": 3, "fidelity_budget": epochs},
                                                  "RandomSearch")
        methods[f"BOHB (TPE), {epochs} epochs"] = (many, {"type": "BOHB", "eta": 3, "fidelity_budget": epochs},
                                                   "TPE")
    print(f"slotnas bench_multifidelity: default digits space, SubNetEstim up to {EPOCHS} epochs (rungs 1/3/9, "
          f"eta 3), median of {args.seeds} seeds")
    figures: Dict[str, Tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (budget, scheduler, optim) in methods.items():
            runs = [run(tmp, seed, budget, scheduler, optim) for seed in range(args.seeds)]
            figures[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
            print(f"{name:<42} best val_acc {figures[name][0]:7.3f}   epochs {figures[name][1]:6.0f}", flush=True)
    rs_best, rs_epochs = list(figures.values())[0]
    for name, (best, epochs) in figures.items():
        if name.startswith("ASHA"):
            ok = best >= rs_best - 0.5 and epochs <= rs_epochs / 3
            print(f"{name} vs random: {best - rs_best:+.3f} points with {epochs / rs_epochs:.2f}x the epochs "
                  f"(target: >= -0.5 points with <= 0.33x) {'ok' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
