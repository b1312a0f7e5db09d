"""Cost of one optimizer ``next()`` (and ``step()``) with 300 evaluated architectures."""
from __future__ import annotations

import statistics
import time

from slotnas import Categorical, Numeric, ParamSpace
from slotnas.optim import OPTIMIZERS

TARGETS_S = {"RandomSearch": 1e-3, "GridSearch": 1e-3, "Evolution": 1e-3, "RegularizedEvolution": 1e-3,
             "SkoptBO": 0.5, "XGBoostSMBO": 0.5}


def make_space() -> ParamSpace:
    space = ParamSpace()
    for i in range(8):
        space.add(Categorical(["NC3", "NC5", "SC3", "SC5", "IDT"], name=f"cell{i}"))
    space.add(Numeric(1e-4, 1e-1, log=True, name="lr"))
    return space


def score(arch: dict) -> float:
    return sum(arch[f"cell{i}"] == "SC5" for i in range(8)) - abs(arch["lr"] - 0.01)


def main(evaluated: int = 300, repeats: int = 5) -> None:
    print(f"slotnas bench_optim: one next() after {evaluated} evaluated architectures (8 x 5 choices + 1 numeric)")
    for name, target in TARGETS_S.items():
        opt = OPTIMIZERS.get(name)(make_space(), seed=0)
        for arch in opt.next(evaluated):  # proposed by the optimizer itself, as in a search
            opt.step([(arch, {"val_acc": score(arch)})])
        next_times, step_times = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            (arch,) = opt.next(1)
            next_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            opt.step([(arch, {"val_acc": score(arch)})])
            step_times.append(time.perf_counter() - start)
        t_next, t_step = statistics.median(next_times), statistics.median(step_times)
        verdict = "ok" if t_next <= target else "MISSED"
        print(f"{name:<22} next {t_next * 1e3:9.3f} ms  step {t_step * 1e3:8.3f} ms  "
              f"(target next <= {target * 1e3:g} ms) {verdict}")


if __name__ == "__main__":
    main()
