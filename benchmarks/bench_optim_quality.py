"""Sample efficiency: median best-so-far g at 50/100/200 evaluations for every slotnas optimizer (and
Optuna's TPESampler and GPSampler when Optuna is installed), on problems with a known optimum
(optim_problems.py); 10 seeds, each optimizer told the noisy objective, g measured without noise.

    python benchmarks/bench_optim_quality.py [--problems categorical numeric digits] [--seeds 10]
        [--budget 200] [--optimizers GPBO TPE ...] [--processes 2]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from multiprocessing import Pool
from typing import Any, Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from optim_problems import Problem, problems  # noqa: E402

from slotnas import Categorical  # noqa: E402
from slotnas.optim import OPTIMIZERS  # noqa: E402
from slotnas.trials import Trial  # noqa: E402

SLOTNAS = ["RandomSearch", "RegularizedEvolution", "NSGA2", "XGBoostSMBO", "SkoptBO", "TPE", "GPBO"]
OPTUNA = ["optuna:TPESampler", "optuna:GPSampler"]
OPTIONS: Dict[str, Dict[str, Any]] = {"NSGA2": {"objectives": [{"metric": "val_acc", "mode": "max"}]},
                                      "GPBO-no-additive": {"additive": False}}
CHECKPOINTS = (50, 100, 200)


def run_slotnas(name: str, problem: Problem, seed: int, budget: int) -> Tuple[List[float], float]:
    """g of the best architecture evaluated so far after each evaluation, and the mean seconds per ask."""
    space = problem.space()
    opt = OPTIMIZERS.get(name.split("-no-")[0])(space, seed=seed, **OPTIONS.get(name, {}))
    rng = np.random.default_rng(seed + 1000)
    best, curve, asking = -math.inf, [], 0.0
    for i in range(budget):
        start = time.perf_counter()
        arch = opt.ask()
        asking += time.perf_counter() - start
        if arch is None:
            break
        best = max(best, problem.g(arch))
        curve.append(best)
        opt.tell(Trial(i, arch).finish({"val_acc": problem.observe(arch, rng)}))
    return curve, asking / max(1, len(curve))


def run_optuna(name: str, problem: Problem, seed: int, budget: int) -> Tuple[List[float], float]:
    """The same loop with an Optuna sampler through its ask/tell interface."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = getattr(optuna.samplers, name.split(":")[1])(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    dists = {p.name: (optuna.distributions.CategoricalDistribution(p.choices) if isinstance(p, Categorical)
                      else optuna.distributions.FloatDistribution(p.low, p.high, log=p.log))
             for p in problem.space().discrete()}
    rng = np.random.default_rng(seed + 1000)
    best, curve, asking = -math.inf, [], 0.0
    for _ in range(budget):
        start = time.perf_counter()
        trial = study.ask(dists)
        asking += time.perf_counter() - start
        arch = dict(trial.params)
        best = max(best, problem.g(arch))
        curve.append(best)
        study.tell(trial, problem.observe(arch, rng))
    return curve, asking / max(1, len(curve))


def one_run(job: Tuple[str, str, int, int]) -> Tuple[str, str, int, List[float], float]:
    from threadpoolctl import threadpool_limits

    problem_name, optimizer, seed, budget = job
    problem = PROBLEMS[problem_name]
    with threadpool_limits(1):
        run = run_optuna if optimizer.startswith("optuna:") else run_slotnas
        curve, per_ask = run(optimizer, problem, seed, budget)
    return problem_name, optimizer, seed, curve, per_ask


PROBLEMS: Dict[str, Problem] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=["categorical", "numeric", "digits"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--optimizers", nargs="+", default=None)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    try:
        import optuna  # noqa: F401

        default = SLOTNAS + OPTUNA
    except ImportError:
        default = SLOTNAS
        print("(Optuna not installed: its samplers are left out)")
    names = args.optimizers or default
    PROBLEMS.update(problems(tuple(args.problems)))
    jobs = [(p, o, s, args.budget) for p in args.problems for o in names for s in range(args.seeds)]
    with Pool(args.processes, initializer=PROBLEMS.update, initargs=(PROBLEMS,)) as pool:
        results = pool.map(one_run, jobs, chunksize=1)
    marks = [c for c in CHECKPOINTS if c <= args.budget]
    for problem_name in args.problems:
        print(f"\n{PROBLEMS[problem_name].name}: median best g over {args.seeds} seeds "
              f"(1 = optimum, 0 = average architecture)")
        print(f"{'optimizer':<22}" + "".join(f"{'@' + str(m):>8}" for m in marks) + f"{'g>=0.95':>9}{'s/ask':>8}")
        for optimizer in names:
            runs = [r for r in results if r[0] == problem_name and r[1] == optimizer]
            at = [statistics.median(r[3][min(m, len(r[3])) - 1] for r in runs) for m in marks]
            hits = sum(r[3][-1] >= 0.95 for r in runs)
            per_ask = statistics.mean(r[4] for r in runs)
            print(f"{optimizer:<22}" + "".join(f"{v:8.3f}" for v in at) + f"{hits:>6}/{len(runs)}{per_ask:8.3f}")
    if "categorical" in args.problems and args.budget >= 200:
        runs = [r for r in results if r[0] == "categorical" and r[1] == "GPBO"]
        if runs:
            g100 = statistics.median(r[3][99] for r in runs)
            g200 = statistics.median(r[3][199] for r in runs)
            verdict = "ok" if g100 >= 0.90 and g200 >= 0.99 else "MISSED"
            print(f"\ntarget GPBO on categorical: median g >= 0.90 @100 and >= 0.99 @200: "
                  f"{g100:.3f} / {g200:.3f} {verdict}")


if __name__ == "__main__":
    main()
