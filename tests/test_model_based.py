"""Model-based search: GPBO's kernel and acquisition, the discrete acquisition maximizer, MOTPE."""
import math
import statistics

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.gaussian_process.kernels import ConstantKernel

from slotnas import Categorical, Numeric, ParamSpace
from slotnas.optim import OPTIMIZERS
from slotnas.optim.acquisition import Encoder, maximize
from slotnas.optim.gp import log_expected_improvement
from slotnas.optim.kernels import AdditiveKernel, ArchKernel, log_prior
from slotnas.pareto import non_dominated_sort

from .helpers import drive


def test_arch_kernel_is_one_on_the_diagonal_positive_definite_and_its_gradient_is_right():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.integers(0, 4, 12), rng.integers(0, 3, 12), rng.random(12)]).astype(float)
    kernel = ArchKernel([0.5, 2.0, 3.0], [True, True, False])
    k, grad = kernel(x, eval_gradient=True)
    assert np.allclose(np.diag(k), 1.0) and np.allclose(k, k.T)
    assert np.linalg.eigvalsh(k + 1e-9 * np.eye(12)).min() > 0
    same_choice = x[:, 0][:, None] == x[:, 0][None, :]
    moved = ArchKernel([5.0, 2.0, 3.0], [True, True, False])(x)  # a heavier first parameter ...
    assert np.all(moved[~same_choice] < k[~same_choice]) and np.allclose(moved[same_choice & (k == 1)], 1.0)
    eps = 1e-6  # ... and the analytic gradient in log weights matches finite differences
    for d in range(3):
        theta = kernel.theta.copy()
        theta[d] += eps
        numeric = (kernel.clone_with_theta(theta)(x) - k) / eps
        assert np.allclose(grad[..., d], numeric, atol=1e-4)


def test_kernel_works_inside_sklearn_kernel_algebra():
    x = np.array([[0.0, 0.2], [1.0, 0.2], [0.0, 0.9]])
    kernel = ConstantKernel(2.0) * ArchKernel([1.0, 1.0], [True, False])
    assert np.allclose(kernel(x).diagonal(), 2.0) and kernel.n_dims == 3


@pytest.mark.parametrize("values, n_weights", [([1.3, 0.5, 4.0, 0.02], None), ([1.3, 0.5, 4.0, 0.7, 0.02], 2)])
def test_log_prior_gradient_matches_finite_differences(values, n_weights):
    theta = np.log(np.array(values))  # [scale, weights..., (additive scale,) noise]
    value, grad = log_prior(theta, n_weights)
    for d in range(len(theta)):
        shifted = theta.copy()
        shifted[d] += 1e-6
        assert math.isclose((log_prior(shifted, n_weights)[0] - value) / 1e-6, grad[d], rel_tol=1e-4, abs_tol=1e-6)


def test_additive_kernel_counts_shared_choices_and_is_positive_definite():
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.integers(0, 3, 15), rng.integers(0, 3, 15), rng.random(15)]).astype(float)
    k, grad = AdditiveKernel([True, True, False])(x, eval_gradient=True)
    assert np.allclose(np.diag(k), 1.0) and grad.shape == (15, 15, 0)
    assert np.linalg.eigvalsh(k + 1e-9 * np.eye(15)).min() > 0
    pair = AdditiveKernel([True, True])(np.array([[0.0, 1.0], [0.0, 2.0], [1.0, 2.0]]))
    assert np.allclose(pair[0], [1.0, 0.5, 0.0])  # the mean over parameters of equal choices


def test_log_expected_improvement_is_exact_and_finite_far_below_the_best():
    mu, sd = np.array([0.0, 0.5, -1.0, -60.0]), np.array([1.0, 0.3, 0.5, 1.0])
    z = (mu - 0.2) / sd
    direct = sd * (z * norm.cdf(z) + norm.pdf(z))
    ours = log_expected_improvement(mu, sd, 0.2)
    assert np.allclose(ours[:3], np.log(direct[:3]))
    assert np.isfinite(ours[3]) and ours[3] < ours[2]  # EI underflows to 0 there; its log still ranks


def _space(dims=6, choices=4, numeric=0):
    space = ParamSpace()
    for d in range(dims):
        space.add(Categorical([f"c{i}" for i in range(choices)], name=f"x{d}"))
    for d in range(numeric):
        space.add(Numeric(1e-3, 1.0, log=True, name=f"r{d}"))
    return space


def test_local_search_climbs_to_the_optimum_of_a_separable_score():
    table = np.random.default_rng(1).normal(size=(8, 5))
    space = ParamSpace()
    for d in range(8):
        space.add(Categorical(list(range(5)), name=f"x{d}"))
    encoder = Encoder(space.discrete())

    def score(rows):
        return table[np.arange(8)[None, :], rows.astype(int)].sum(axis=1)

    best = maximize(score, encoder, np.zeros((0, 8)), np.random.default_rng(0), n_random=16, n_mutants=0)[0]
    assert np.array_equal(best, table.argmax(axis=1))  # 5^8 = 390625 architectures, 16 random starts


def test_encoder_round_trips_and_moves_numbers_on_their_log_axis():
    space = _space(dims=2, numeric=1)
    encoder = Encoder(space.discrete())
    arch = {"x0": "c2", "x1": "c0", "r0": 0.01}
    row = encoder.encode([arch])[0]
    assert row[:2].tolist() == [2.0, 0.0] and math.isclose(row[2], 1 / 3)
    assert encoder.decode(row)["x0"] == "c2" and math.isclose(encoder.decode(row)["r0"], 0.01)
    assert np.allclose(encoder.one_hot(row[None]), [[0, 0, 1, 0, 1, 0, 0, 0, row[2]]])
    near = encoder.neighbours(row)
    assert len(near) == 3 + 3 + 6  # other choices of x0, of x1, and 3 step sizes up and down for r0


def _interacting(arch):
    """Additive plus a pair interaction; optimum: every x_d = c1, and x0 == x1 == c1 counts double."""
    idx = [int(arch[f"x{d}"][1:]) for d in range(6)]
    return float(sum(i == 1 for i in idx) + 2.0 * (idx[0] == idx[1] == 1))


@pytest.mark.parametrize("name, options", [("GPBO", {"n_initial": 8, "n_candidates": 256}),
                                           ("GPBO", {"n_initial": 8, "n_candidates": 256, "additive": False}),
                                           ("XGBoostSMBO", {"n_initial": 8, "n_estimators": 30}),
                                           ("TPE", {"n_initial": 8})])
def test_model_based_optimizers_find_a_known_optimum_random_search_misses(name, options):
    def best_of(opt_name, seed, **kw):
        opt = OPTIMIZERS.get(opt_name)(_space(), seed=seed, **kw)
        return max(t.metrics["val_acc"] for t in drive(opt, lambda a: {"val_acc": _interacting(a)}, 40))

    ours = [best_of(name, seed, **options) for seed in range(3)]
    random = [best_of("RandomSearch", seed) for seed in range(3)]
    assert statistics.median(ours) > statistics.median(random)
    if name != "TPE":
        assert statistics.median(ours) == 8.0  # the optimum, one of 4096, in 40 evaluations


def _two_objectives(arch):
    """Front: architectures made only of c0 and c1 (how many of each trades one objective against the other)."""
    values = [arch[f"x{d}"] for d in range(6)]
    return {"a": float(values.count("c0")), "b": float(values.count("c1"))}


def test_motpe_finds_more_of_the_pareto_front_than_random_search():
    objectives = [{"metric": "a", "mode": "max"}, {"metric": "b", "mode": "max"}]

    def on_front(opt):
        trials = drive(opt, _two_objectives, 60)
        return sum(all(v in ("c0", "c1") for v in t.arch.values()) for t in trials)

    motpe = sum(on_front(OPTIMIZERS.get("TPE")(_space(), seed=s, objectives=objectives, n_initial=10))
                for s in range(3))
    random = sum(on_front(OPTIMIZERS.get("RandomSearch")(_space(), seed=s)) for s in range(3))
    assert motpe >= 3 * max(random, 1)


def test_motpe_ranks_by_the_first_objective_and_orders_its_data_by_pareto_fronts():
    objectives = [{"metric": "a", "mode": "max"}, {"metric": "b", "mode": "max"}]
    opt = OPTIMIZERS.get("TPE")(_space(), seed=0, objectives=objectives, n_initial=5)
    trials = drive(opt, _two_objectives, 20)
    assert opt.objective == "a" and opt.best(trials).metrics["a"] == max(t.metrics["a"] for t in trials)
    ranked = opt._ranked()  # the good/bad split is taken from this order
    points = [(-_two_objectives(a)["a"], -_two_objectives(a)["b"]) for a in ranked]
    front_of = {i: rank for rank, front in enumerate(non_dominated_sort(points)) for i in front}
    assert len(ranked) == 20 and len(set(front_of.values())) > 1
    assert all(front_of[i] <= front_of[i + 1] for i in range(len(ranked) - 1))  # front by front
