"""Scheduler arithmetic against hand-computed tables: rungs, trials per rung, promotions."""
from collections import Counter

import pytest

from slotnas.errors import SlotnasError
from slotnas.registry import check_options
from slotnas.schedulers import ASHA, BOHB, Hyperband, Job, SuccessiveHalving, ranked, rungs


def simulate(scheduler, cost, new):
    """One worker: run each job at once; return the jobs as (trial index, fidelity)."""
    scheduler.new_allowed = new
    jobs, fresh = [], 0
    while (job := scheduler.next_job()) is not None:
        index = job.index
        if index is None:
            index, fresh = fresh, fresh + 1
        jobs.append((index, job.fidelity))
        scheduler.on_result(index, job.fidelity, cost(index))
    assert scheduler.done
    return jobs


def per_rung(jobs):
    return dict(sorted(Counter(f for _, f in jobs).items()))


def by_index(costs):
    return lambda i: (float(costs[i]),)


def test_rungs():
    assert rungs(1, 9, 3) == [1, 3, 9] and rungs(1, 10, 3) == [1, 3, 9, 10] and rungs(2, 16, 2) == [2, 4, 8, 16]
    with pytest.raises(SlotnasError, match="scheduler.eta: expected an integer >= 2"):
        rungs(1, 9, 1)


@pytest.mark.parametrize("max_f, eta, n, table", [
    (9, 3, None, {1: 9, 3: 3, 9: 1}),
    (8, 2, None, {1: 8, 2: 4, 4: 2, 8: 1}),
    (9, 3, 10, {1: 10, 3: 3, 9: 1}),        # an odd bracket: floor(10 / 3) = 3 go up
    (9, 3, 5, {1: 5, 3: 1, 9: 0}),          # floor(1 / 3) = 0: the bracket ends at rung 3
])
def test_successive_halving_table(max_f, eta, n, table):
    costs = [(7 * i) % 11 for i in range(30)]
    jobs = simulate(SuccessiveHalving(max_f, 1, eta, n=n), by_index(costs), new=n or eta ** (len(table) - 1))
    assert per_rung(jobs) == {r: c for r, c in table.items() if c}
    first, second = [i for i, f in jobs if f == 1], sorted(table)[1]
    assert [i for i, f in jobs if f == second] == sorted(first, key=lambda i: costs[i])[: table[second]]


def test_hyperband_brackets_max_27_eta_3():
    scheduler = Hyperband(27, 1, 3)
    assert scheduler.cycle == [(27, 0), (12, 1), (6, 2), (4, 3)]  # Li et al.'s table: n_s = ceil(4 / (s+1) * 3^s)
    jobs = simulate(scheduler, by_index([(5 * i) % 13 for i in range(60)]), new=27 + 12 + 6 + 4)
    # bracket s=3: 27@1 9@3 3@9 1@27; s=2: 12@3 4@9 1@27; s=1: 6@9 2@27; s=0: 4@27
    assert per_rung(jobs) == {1: 27, 3: 9 + 12, 9: 3 + 4 + 6, 27: 1 + 1 + 2 + 4}


def test_asha_with_one_worker_follows_its_rule():
    costs = {0: 5, 1: 3, 2: 8, 3: 1, 4: 6, 5: 2}
    jobs = simulate(ASHA(4, 1, 2), by_index(costs), new=6)
    assert jobs == [(0, 1), (1, 1), (1, 2), (2, 1), (3, 1), (3, 2), (3, 4), (4, 1), (5, 1), (5, 2)]


def test_asha_never_promotes_a_failed_trial():
    jobs = simulate(ASHA(9, 1, 3), lambda i: None if i == 0 else (float(i),), new=6)
    assert (0, 3) not in jobs and (1, 3) in jobs


def test_moasha_ranks_by_non_dominated_sorting():
    results = [(0, (1.0, 5.0)), (1, (5.0, 1.0)), (2, (3.0, 3.0)), (3, (4.0, 4.0)), (4, (6.0, 6.0)), (5, None)]
    order = ranked(results)
    assert set(order[:3]) == {0, 1, 2} and order[3:] == [3, 4, 5]
    assert order[:2] in ([0, 1], [1, 0])  # the extremes of the first front come first (infinite crowding)
    asha = ASHA(9, 1, 3)
    for index, costs in results:
        asha.on_result(index, 1, costs)
    assert asha.next_job() in (Job(0, 3), Job(1, 3))  # 6 results: the top 2 are the first front's extremes


def test_fidelity_budget_counts_new_rungs_and_promotion_increments():
    costs = {0: 5, 1: 3, 2: 8, 3: 1, 4: 6, 5: 2}
    scheduler = ASHA(4, 1, 2, fidelity_budget=6)
    jobs = simulate(scheduler, by_index(costs), new=6)  # ASHA's own order (see above), cut at 6 epochs:
    assert jobs == [(0, 1), (1, 1), (1, 2), (2, 1), (3, 1), (3, 2)]  # 1 + 1 + (2-1) + 1 + 1 + (2-1)
    assert scheduler.spent == 6
    hyperband = Hyperband(9, 1, 3, fidelity_budget=20)
    jobs = simulate(hyperband, by_index([(5 * i) % 13 for i in range(40)]), new=40)
    # the first bracket is 9@1, 3@3, 1@9: after 9 + 3*2 = 15 < 20 epochs the last job starts and ends at 21
    assert per_rung(jobs) == {1: 9, 3: 3, 9: 1} and hyperband.spent == 21


def test_bohb_model_rung_is_the_highest_with_enough_successful_results():
    bohb = BOHB(9, 1, 3)
    assert bohb.model_rung(3) is None
    for i in range(4):
        bohb.on_result(i, 1, (float(i),))
    bohb.on_result(4, 3, (1.0,))
    bohb.on_result(5, 3, None)  # failed: not a point to fit
    bohb.on_result(6, 3, (2.0,))
    assert bohb.model_rung(3) == 1 and bohb.model_rung(2) == 3 and bohb.model_rung(5) is None
    fixed = BOHB(9, 1, 3, min_points=4)
    for i in range(4):
        fixed.on_result(i, 1, (float(i),))
    assert fixed.model_rung(99) == 1  # min_points wins over the default
    with pytest.raises(SlotnasError, match=r"^scheduler \(BOHB\).min_points: expected int >= 1 or null, got int 0$"):
        check_options(BOHB, "scheduler (BOHB)", {"min_points": 0})


def test_stop_rule_keeps_the_top_ceil_k_over_eta_of_a_rung():
    from slotnas.schedulers import StopRule

    acc = [{"metric": "val_acc", "mode": "max"}]
    rule = StopRule((1, 3, 9), 3, tuple(acc), {1: ((-5.0,), (-3.0,), (-8.0,)), 3: ()})
    assert rule.stops(1, {"val_acc": 4.0})  # 4 results: keep ceil(4/3) = 2 (8 and 5)
    assert not rule.stops(1, {"val_acc": 6.0})  # second of 4
    assert not rule.stops(3, {"val_acc": 0.1})  # the first result at rung 3 always continues
    assert not rule.stops(2, {"val_acc": 0.1}) and not rule.stops(9, {"val_acc": 0.1})  # not a rung below the top
    assert rule.stops(1, {"val_acc": float("nan")})  # nothing to continue for
    asha = ASHA(9, 1, 3)
    asha.on_result(0, 1, (-5.0,))
    assert asha.stop_rule(acc) == StopRule((1, 3, 9), 3, tuple(acc), {1: ((-5.0,),), 3: ()})


def test_a_promotion_that_starts_again_costs_its_whole_rung():
    scheduler = ASHA(4, 1, 2, fidelity_budget=6)
    scheduler.continues = False  # e.g. the data or resolution fidelity: each rung trains from scratch
    jobs = simulate(scheduler, by_index({0: 5, 1: 3, 2: 8, 3: 1, 4: 6, 5: 2}), new=6)
    assert jobs == [(0, 1), (1, 1), (1, 2), (2, 1), (3, 1)] and scheduler.spent == 6  # 1 + 1 + 2 + 1 + 1
