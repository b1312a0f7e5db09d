import statistics

import pytest

from slotnas import Categorical, Numeric, ParamSpace, SlotnasError
from slotnas.optim import OPTIMIZERS, arch_key
from slotnas.trials import Trial

from .helpers import drive

ALL = ["RandomSearch", "GridSearch", "Evolution", "RegularizedEvolution", "SkoptBO", "GPBO", "XGBoostSMBO", "TPE"]
SMALL = {"Evolution": {"population": 8}, "RegularizedEvolution": {"population": 10, "sample_size": 3},
         "SkoptBO": {"n_initial": 5, "n_points": 300}, "XGBoostSMBO": {"n_initial": 5, "n_estimators": 30}, "TPE": {"n_initial": 5},
         "GPBO": {"n_initial": 5, "n_candidates": 256}}


def letters_space(n: int = 8, k: int = 5) -> ParamSpace:
    space = ParamSpace()
    for i in range(n):
        space.add(Categorical(list("abcde"[:k]), name=f"p{i}"))
    return space


def objective(arch: dict) -> float:
    """Known optimum: p_i == 'abcde'[i % 5] for all i (score 8)."""
    return float(sum(arch[f"p{i}"] == "abcde"[i % 5] for i in range(8)))


def run(name: str, seed: int, n: int = 30, space: ParamSpace = None, **kw) -> list:
    opt = OPTIMIZERS.get(name)(space or letters_space(), seed=seed, **{**SMALL.get(name, {}), **kw})
    trials = drive(opt, lambda arch: {"val_acc": objective(arch) if "p7" in arch else 0.0}, n)
    return [t.arch for t in trials], opt, trials


@pytest.mark.parametrize("name", ALL)
def test_proposals_are_valid_and_never_repeated(name):
    space = letters_space()
    archs, opt, trials = run(name, seed=1, n=25, space=space)
    assert len(archs) == 25
    assert len({arch_key(a) for a in archs}) == 25
    for arch in archs:
        space.update(arch)  # raises if a value is out of the choices
    assert opt.best(trials).metrics["val_acc"] == max(objective(a) for a in archs)


@pytest.mark.parametrize("name", ALL)
def test_exhausted_space_stops(name):
    space = ParamSpace()
    space.add(Categorical(["x", "y", "z"], name="a"))
    space.add(Categorical([1, 2], name="b"))
    opt = OPTIMIZERS.get(name)(space, seed=0, **SMALL.get(name, {}))
    seen = [arch_key(t.arch) for t in drive(opt, lambda arch: {"val_acc": 1.0}, 10)]
    assert len(seen) == 6 and len(set(seen)) == 6 and opt.ask() is None


def median_best(opt_name: str, n: int) -> float:
    return statistics.median(opt.best(trials).metrics["val_acc"] for seed in range(5)
                             for _, opt, trials in [run(opt_name, seed, n=n)])


@pytest.mark.parametrize("name", ["RegularizedEvolution", "SkoptBO", "GPBO", "XGBoostSMBO", "TPE"])
def test_beats_random_search_on_a_known_optimum(name):
    assert median_best(name, 30) > median_best("RandomSearch", 30)


def test_generational_evolution_beats_random_after_a_few_generations():
    assert median_best("Evolution", 60) > median_best("RandomSearch", 60)


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_sequence(name):
    a = run(name, seed=7, n=15)[0]
    b = run(name, seed=7, n=15)[0]
    assert a == b


def test_numeric_parameters_and_min_mode():
    space = ParamSpace()
    space.add(Numeric(1e-4, 1e-1, log=True, name="lr"))
    space.add(Numeric(1, 6, integer=True, name="depth"))
    space.add(Categorical(["relu", "gelu"], name="act"))
    for name in ALL:
        opt = OPTIMIZERS.get(name)(space, seed=0, mode="min", objective="loss", **SMALL.get(name, {}))
        def loss(arch):
            space.update(arch)
            return {"loss": abs(arch["depth"] - 3) + arch["lr"]}

        trials = drive(opt, loss, 12)
        assert opt.best(trials).metrics["loss"] == min(t.metrics["loss"] for t in trials)


def test_failed_results_never_win():
    space = letters_space(2)
    opt = OPTIMIZERS.get("RandomSearch")(space, seed=0)
    a, b = opt.ask(), opt.ask()
    failed = Trial(0, a).finish({"val_acc": 99.0}, error="NonFiniteLoss: nan")
    ok = Trial(1, b).finish({"val_acc": 10.0})
    assert failed.state.value == "FAILED"
    for trial in (failed, ok):
        opt.tell(trial)
    assert opt.best([failed, ok]) is ok
    nan = Trial(2, opt.ask()).finish({"val_acc": float("nan")})
    assert opt.best([nan]) is None and opt.rank([failed, nan]) == []


def test_bad_options():
    with pytest.raises(SlotnasError, match="optim.mode"):
        OPTIMIZERS.get("RandomSearch")(letters_space(), mode="up")
    with pytest.raises(SlotnasError, match="optim.acquisition"):
        OPTIMIZERS.get("XGBoostSMBO")(letters_space(), acquisition="greedy")


@pytest.mark.parametrize("name", ALL + ["NSGA2"])
def test_an_empty_space_is_one_architecture(name):
    opt = OPTIMIZERS.get(name)(ParamSpace(), seed=0, **SMALL.get(name, {}))  # e.g. a fixed network's hyperparameters
    assert [t.arch for t in drive(opt, lambda arch: {"val_acc": 1.0}, 3)] == [{}] and opt.ask() is None


@pytest.mark.parametrize("name, smallest", [("Evolution", 2), ("NSGA2", 4)])
def test_generational_population_minimum(name, smallest):
    with pytest.raises(SlotnasError, match=rf"optim.population: must be >= {smallest}, got {smallest - 1}"):
        OPTIMIZERS.get(name)(letters_space(), population=smallest - 1)
    assert OPTIMIZERS.get(name)(letters_space(), population=smallest).population_size == smallest


def test_tpe_on_a_mixed_space_finds_the_numeric_optimum_region():
    space = ParamSpace()
    space.add(Categorical(list("abc"), name="op"))
    space.add(Numeric(1e-4, 1.0, log=True, name="lr"))
    space.add(Numeric(1, 64, integer=True, name="width"))

    def score(arch):  # best at op c, lr 1e-2, width 48
        import math
        return (arch["op"] == "c") - abs(math.log10(arch["lr"]) + 2) - abs(arch["width"] - 48) / 16

    def best_of(name, seed):
        opt = OPTIMIZERS.get(name)(space, seed=seed, **SMALL.get(name, {}))
        trials = drive(opt, lambda arch: {"val_acc": score(arch)}, 40)
        assert all(isinstance(t.arch["width"], int) and 1e-4 <= t.arch["lr"] <= 1.0 for t in trials)
        return opt.best(trials).metrics["val_acc"]

    assert statistics.median(best_of("TPE", s) for s in range(5)) > \
        statistics.median(best_of("RandomSearch", s) for s in range(5))


@pytest.mark.parametrize("name", ["SkoptBO", "GPBO", "XGBoostSMBO", "TPE"])
def test_refit_replaces_the_models_data_and_keeps_what_was_seen(name):
    _, opt, trials = run(name, seed=0, n=12)
    assert opt.model_based
    opt.refit(trials[:3])
    data = getattr(opt, "_data", None)
    if data is not None:
        assert [d[-1] if isinstance(d[-1], dict) else d[0] for d in data] == [t.arch for t in trials[:3]]
    seen = {arch_key(t.arch) for t in trials}
    assert all(arch_key(opt.ask()) not in seen for _ in range(5))


def test_refit_on_an_optimizer_without_a_model_is_a_one_line_error():
    _, opt, trials = run("RandomSearch", seed=0, n=3)
    with pytest.raises(SlotnasError, match="optim RandomSearch fits no model to results; allowed for BOHB"):
        opt.refit(trials)
