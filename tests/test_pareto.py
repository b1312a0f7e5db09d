import itertools
import math

import pytest

from slotnas import Categorical, ParamSpace, SlotnasError
from slotnas.optim import OPTIMIZERS
from slotnas.pareto import check_objectives, costs, crowding_distance, dominates, non_dominated_sort, pareto_front

from .helpers import drive

OBJECTIVES = [{"metric": "gain", "mode": "max"}, {"metric": "cost", "mode": "min"}]


GENES = 5


def two_objective(arch: dict) -> dict:
    """gain = sum x (max), cost = sum x^2 (min): the front spreads each total evenly; extremes all-0 / all-3."""
    xs = [arch[f"x{i}"] for i in range(GENES)]
    return {"gain": float(sum(xs)), "cost": float(sum(x * x for x in xs))}


def gene_space() -> ParamSpace:
    space = ParamSpace()
    for i in range(GENES):
        space.add(Categorical([0, 1, 2, 3], name=f"x{i}"))
    return space


def true_front() -> dict:
    """Least cost for each gain, by enumerating all 4**GENES architectures."""
    best: dict = {}
    for xs in itertools.product(range(4), repeat=GENES):
        best[sum(xs)] = min(best.get(sum(xs), 99), sum(x * x for x in xs))
    return best


def test_non_dominated_sort_and_crowding():
    points = [(0, 5), (1, 3), (2, 2), (3, 3), (5, 0), (4, 4)]
    fronts = non_dominated_sort(points)
    assert sorted(fronts[0]) == [0, 1, 2, 4] and sorted(fronts[1]) == [3] and fronts[2] == [5]
    crowd = crowding_distance(points, fronts[0])
    assert crowd[0] == math.inf and crowd[4] == math.inf and 0 < crowd[1] < math.inf
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (2, 1)) and not dominates((1, 1), (1, 1))


def test_nsga2_front_is_non_dominated_and_covers_both_extremes():
    opt = OPTIMIZERS.get("NSGA2")(gene_space(), objectives=OBJECTIVES, population=20, seed=0)
    history = [(t.arch, t.metrics) for t in drive(opt, two_objective, 700)]
    front = pareto_front(history, OBJECTIVES)
    vectors = [costs(m, OBJECTIVES) for _, m in front]
    assert not any(dominates(a, b) for a, b in itertools.permutations(vectors, 2))
    all_vectors = [costs(m, OBJECTIVES) for _, m in history]
    assert all(not any(dominates(o, v) for o in all_vectors) for v in vectors)
    gains = [m["gain"] for _, m in front]
    assert min(gains) == 0.0 and max(gains) == 3.0 * GENES  # all zeros and all threes are both found
    best = true_front()
    assert {(m["gain"], m["cost"]) for _, m in front} == {(float(g), float(c)) for g, c in best.items()}


@pytest.mark.parametrize("name, options", [("NSGA2", {"population": 16}), ("TPE", {})])
def test_multi_objective_optimizers_beat_random_on_front_coverage(name, options):
    best_cost = true_front()

    def coverage(name: str, seed: int, **kwargs) -> int:
        """How many truly Pareto-optimal points the search found."""
        opt = OPTIMIZERS.get(name)(gene_space(), seed=seed, **kwargs)
        front = pareto_front([(t.arch, t.metrics) for t in drive(opt, two_objective, 150)], OBJECTIVES)
        return sum(1 for _, m in front if m["cost"] == best_cost[int(m["gain"])])

    ours = sum(coverage(name, s, objectives=OBJECTIVES, **options) for s in range(3))
    assert ours > sum(coverage("RandomSearch", s) for s in range(3))


def test_objectives_validation_and_failed_results():
    with pytest.raises(SlotnasError, match=r"objectives\[0\].mode: 'up' not allowed; allowed: max, min"):
        check_objectives([{"metric": "a", "mode": "up"}])
    with pytest.raises(SlotnasError, match="non-empty list"):
        check_objectives([])
    assert costs({"error": "boom", "gain": 1, "cost": 1}, OBJECTIVES) is None
    assert costs({"gain": 2.0, "cost": 3.0}, OBJECTIVES) == (-2.0, 3.0)
