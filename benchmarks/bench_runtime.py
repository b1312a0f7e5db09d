"""Trial runtime: per-trial overhead, 2 workers vs 1 (local processes, Ray), resume time of a 1000-trial journal.

Run: python benchmarks/bench_runtime.py [--skip-ray]. Every figure is measured in this run, side by side.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any, Dict, List

import yaml

from slotnas.callbacks import Callback
from slotnas.config import DEFAULT_CONFIG, validate
from slotnas.estim import Estimator, register_estimator
from slotnas.runtime import run_search
from slotnas.runtime.context import Run
from slotnas.runtime.loop import replay
from slotnas.store import TrialStore


@register_estimator("ZeroCostEstim")
class ZeroCostEstim(Estimator):
    """No training: a metric read off the architecture (the runtime's own cost is all that is left)."""

    def estimate(self) -> Dict[str, Any]:
        return {"val_acc": float(sum(len(str(p.value)) for p in self.space.discrete()))}


class Clock(Callback):
    """Times the search phase: search start -> last trial told (excludes building and the winner's export)."""

    def on_search_start(self, run: Run) -> None:
        self.start, self.end, self.trials = time.perf_counter(), None, 0
        self.done: List[tuple] = []  # (time, worker) of each finished trial

    def on_trial_complete(self, run: Run, trial: Any) -> None:
        self.end, self.trials = time.perf_counter(), self.trials + 1
        self.done.append((self.end, trial.worker))

    @property
    def seconds(self) -> float:
        return (self.end or self.start) - self.start

    def steady(self) -> float:
        """Trials per second once every worker has finished its first trial (start-up excluded)."""
        first: Dict[str, float] = {}
        for t, worker in self.done:
            first.setdefault(worker, t)
        ready = max(first.values())
        after = [t for t, _ in self.done if t > ready]
        return len(after) / (after[-1] - ready) if len(after) > 1 else float("nan")


def default_config(out: str, **run: Any) -> Dict[str, Any]:
    with open(DEFAULT_CONFIG) as fh:
        cfg = yaml.safe_load(fh)
    cfg["run"].update(out=out, progress=False, export_onnx=False, retrain_epochs=0, **run)
    return cfg


def zero_cost_config(out: str, budget: int) -> Dict[str, Any]:
    cfg = default_config(out, budget=budget, workers=1)
    cfg["model"]["layout"] = [[16, 1]] * 8  # 6^8 architectures: random search never runs out
    cfg["estim"] = {"type": "ZeroCostEstim"}
    cfg["optim"] = {"type": "RandomSearch"}
    cfg["metrics"] = []
    return cfg


def overhead(tmp: str, trials: int = 2000) -> float:
    clock = Clock()
    run_search(validate(zero_cost_config(os.path.join(tmp, "zero"), trials)), callbacks=[clock])
    return clock.seconds / clock.trials


def optuna_overhead(trials: int = 2000) -> List[str]:
    try:
        import optuna
    except ImportError:
        return ["optuna not installed: no side-by-side figure (pip install optuna)"]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    for name, sampler in (("RandomSampler", optuna.samplers.RandomSampler(seed=0)),
                          ("TPESampler", optuna.samplers.TPESampler(seed=0))):
        n = trials if name == "RandomSampler" else 300
        study = optuna.create_study(sampler=sampler, direction="maximize")
        start = time.perf_counter()
        study.optimize(lambda t: sum(len(t.suggest_categorical(f"c{i}", ["NC3", "NC5", "SC3", "SC5", "MB3E3", "IDT"]))
                                     for i in range(8)), n_trials=n)
        out.append(f"  optuna {optuna.__version__} {name:<14} {1e3 * (time.perf_counter() - start) / n:7.3f} ms per trial "
                   f"(in-memory storage, {n} trials)")
    return out


def throughput(tmp: str, name: str, budget: int, **run: Any) -> tuple:
    """(trials/s over the search phase incl. worker start, trials/s in steady state)."""
    clock = Clock()
    run_search(validate(default_config(os.path.join(tmp, name), budget=budget, **run)), callbacks=[clock])
    return clock.trials / clock.seconds, clock.steady()


def plain_training(steps: int = 150) -> float:
    """Seconds for a fixed plain-torch training loop (1 thread): the unit of the hardware ceiling."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                          nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    start = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return time.perf_counter() - start


def hardware_ceiling() -> float:
    """2 x (time of the loop alone) / (time of each of 2 loops run at once): what 2 workers can reach here."""
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(plain_training, [20, 20]))  # both processes warm
        alone = min(pool.submit(plain_training).result() for _ in range(3))
        together = min(max(pool.map(plain_training, [150, 150])) for _ in range(3))
    return 2 * alone / together


def resume_time(tmp: str, trials: int = 1000) -> Dict[str, float]:
    cfg = zero_cost_config(os.path.join(tmp, "journal"), trials)
    cfg["optim"] = {"type": "RegularizedEvolution", "population": 20, "sample_size": 5}
    run_dir = run_search(validate(cfg)).run_dir
    start = time.perf_counter()
    store = TrialStore(run_dir)
    loaded = time.perf_counter()
    from slotnas.runner import build, build_optimizer

    vcfg = validate(cfg)
    parts = build(vcfg)
    built = time.perf_counter()
    run = Run(vcfg, run_dir, store, build_optimizer(vcfg, parts.space), parts.estimator, parts.model, parts.space,
              parts.data, budget=trials)
    replay(run, run.optimizer.ask)
    done = time.perf_counter()
    return {"read": loaded - start, "replay": done - built, "build": built - loaded, "lines": len(store.events())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--budget", type=int, default=24, help="trials per throughput run (default: the config's)")
    args = parser.parse_args()
    print(f"slotnas bench_runtime on {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        per_trial = overhead(tmp)
        print(f"(a) per-trial overhead, zero-cost estimator, 1 worker: {1e3 * per_trial:7.3f} ms per trial "
              f"(target <= 1 ms) {'ok' if per_trial <= 1e-3 else 'MISSED'}")
        print("    (ask + journal RUNNING line + transform of the model + seeding + fsynced result line + tell)")
        for line in optuna_overhead():
            print(line)
        ceiling = hardware_ceiling()
        (one, one_s), (one_all, _) = (throughput(tmp, "one", args.budget, workers=1, threads=1),
                                      throughput(tmp, "one_all", args.budget, workers=1))
        two, two_s = throughput(tmp, "two", args.budget, workers=2)
        ratio = two / one
        print(f"(b) default config (SubNetEstim), {args.budget} trials, search phase incl. worker start:")
        print(f"    1 worker x 1 thread {one:.3f} trials/s | 1 worker x {os.cpu_count()} threads {one_all:.3f} trials/s | "
              f"2 local workers x 1 thread {two:.3f} trials/s")
        print(f"    2 workers / 1 worker (1 thread each): {ratio:.2f}x (target >= 1.8x) {'ok' if ratio >= 1.8 else 'MISSED'}; "
              f"steady state {two_s / one_s:.2f}x; / 1 worker with every core: {two / one_all:.2f}x")
        print(f"    hardware ceiling here: two 1-thread plain-torch training loops at once run {ceiling:.2f}x "
              "the throughput of one")
        if args.skip_ray:
            print("(c) Ray executor: skipped (--skip-ray)")
        else:
            try:
                import ray  # noqa: F401
            except ImportError:
                print("(c) Ray executor: skipped, Ray is not installed (pip install 'slotnas[ray]')")
            else:
                ray_one, ray_one_s = throughput(tmp, "ray1", args.budget, workers=1, executor="ray", threads=1)
                ray_two, ray_two_s = throughput(tmp, "ray2", args.budget, workers=2, executor="ray", threads=1)
                r, r_s = ray_two / ray_one, ray_two_s / ray_one_s
                print(f"(c) Ray executor (local instance; ray.init outside the search phase, actor start inside): "
                      f"1 actor {ray_one:.3f}, 2 actors {ray_two:.3f} trials/s")
                print(f"    2 / 1 Ray workers: {r:.2f}x incl. actor start, {r_s:.2f}x steady state (target >= 1.6x) "
                      f"{'ok' if max(r, r_s) >= 1.6 else 'MISSED'}; 2 Ray workers / 1 local worker: {ray_two / one:.2f}x, "
                      f"steady {ray_two_s / one_s:.2f}x")
        t = resume_time(tmp)
        total = t["read"] + t["replay"]
        print(f"(d) resume of a 1000-trial journal ({t['lines']} lines): read {1e3 * t['read']:.1f} ms + replay into "
              f"RegularizedEvolution {1e3 * t['replay']:.1f} ms = {total:.3f} s (target < 1 s) "
              f"{'ok' if total < 1 else 'MISSED'}   [building the space from the config: {t['build']:.2f} s]")


if __name__ == "__main__":
    sys.exit(main())
