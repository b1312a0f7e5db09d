"""Cost of one optimizer ``ask()`` (and ``tell()``) with 300 evaluated architectures."""
from __future__ import annotations

import statistics
import time

from slotnas import Categorical, Numeric, ParamSpace
from slotnas.optim import OPTIMIZERS
from slotnas.trials import Trial

TARGETS_S = {"RandomSearch": 1e-3, "GridSearch": 1e-3, "Evolution": 1e-3, "RegularizedEvolution": 1e-3,
             "SkoptBO": 0.5, "GPBO": 1.0, "XGBoostSMBO": 0.5, "TPE": 0.05}


def make_space() -> ParamSpace:
    space = ParamSpace()
    for i in range(8):
        space.add(Categorical(["NC3", "NC5", "SC3", "SC5", "IDT"], name=f"cell{i}"))
    space.add(Numeric(1e-4, 1e-1, log=True, name="lr"))
    return space


def score(arch: dict) -> float:
    return sum(arch[f"cell{i}"] == "SC5" for i in range(8)) - abs(arch["lr"] - 0.01)


def main(evaluated: int = 300, repeats: int = 5) -> None:
    print(f"slotnas bench_optim: one ask() after {evaluated} evaluated architectures (8 x 5 choices + 1 numeric)")
    for name, target in TARGETS_S.items():
        opt = OPTIMIZERS.get(name)(make_space(), seed=0)
        asked = [opt.ask() for _ in range(evaluated)]  # proposed by the optimizer itself, as in a search
        for i, arch in enumerate(asked):
            opt.tell(Trial(i, arch).finish({"val_acc": score(arch)}))
        ask_times, tell_times = [], []
        for i in range(repeats):
            start = time.perf_counter()
            arch = opt.ask()
            ask_times.append(time.perf_counter() - start)
            trial = Trial(evaluated + i, arch).finish({"val_acc": score(arch)})
            start = time.perf_counter()
            opt.tell(trial)
            tell_times.append(time.perf_counter() - start)
        t_ask, t_tell = statistics.median(ask_times), statistics.median(tell_times)
        verdict = "ok" if t_ask <= target else "MISSED"
        print(f"{name:<22} ask {t_ask * 1e3:9.3f} ms  tell {t_tell * 1e3:8.3f} ms  "
              f"(target ask <= {target * 1e3:g} ms) {verdict}")


if __name__ == "__main__":
    main()
