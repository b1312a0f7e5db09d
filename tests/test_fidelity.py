"""Fidelity: a trial trained to a rung and continued later equals one trained straight through."""
import os

import pytest
import torch

from slotnas.data import build_data
from slotnas.runner import build
from slotnas.runtime.evaluate import seed_trial

from .helpers import tiny_config


def trained(tmp_path, stops):
    cfg = tiny_config(tmp_path, estim={"type": "SubNetEstim", "epochs": 4}, trainer={"epochs": 4, "lr": 0.05})
    parts = build(cfg, build_data(cfg["data"]))
    parts.space.update({"cells.0": "SC3", "cells.1": "NC3"})
    seed_trial(0, 0, parts.data)
    state, metrics = None, None
    for stop in stops:
        if state is not None:  # as a checkpoint would come back: through torch.save / weights_only load
            tmp_path.mkdir(parents=True, exist_ok=True)
            path = tmp_path / "ckpt.pt"
            torch.save(state, path)
            state = torch.load(path, weights_only=True)
        metrics, state = parts.estimator.measure_at(stop, state)
    return metrics, parts.model.state_dict()


@pytest.mark.parametrize("stops", [[1, 4], [1, 3, 4], [2, 2, 4]])
def test_continued_training_equals_training_straight_through(tmp_path, stops):
    straight, weights = trained(tmp_path / "a", [4])
    continued, continued_weights = trained(tmp_path / "b", stops)
    assert continued == straight
    assert all(torch.equal(weights[k], continued_weights[k]) for k in weights)


def test_the_first_rung_is_trained_on_the_full_schedule(tmp_path):
    one, _ = trained(tmp_path / "a", [1])
    cfg = tiny_config(tmp_path / "b", estim={"type": "SubNetEstim", "epochs": 1}, trainer={"epochs": 1, "lr": 0.05})
    parts = build(cfg, build_data(cfg["data"]))
    parts.space.update({"cells.0": "SC3", "cells.1": "NC3"})
    seed_trial(0, 0, parts.data)
    alone = parts.estimator.measure()
    assert one["train_loss"] != alone["train_loss"]  # epoch 1 of 4 keeps a higher learning rate than 1 of 1


from collections import Counter  # noqa: E402

from slotnas.errors import SlotnasError  # noqa: E402
from slotnas.pareto import costs  # noqa: E402
from slotnas.runtime import run_search  # noqa: E402
from slotnas.schedulers import ASHA  # noqa: E402
from slotnas.store import TrialStore  # noqa: E402
from slotnas.trials import TrialState  # noqa: E402

SCHEDULED = dict(estim={"type": "SubNetEstim", "epochs": 4}, trainer={"epochs": 4, "lr": 0.05},
                 scheduler={"type": "ASHA", "min_fidelity": 1, "eta": 2})


def replay_asha(run_dir, eta=2, max_fidelity=4, objectives=({"metric": "val_acc", "mode": "max"},)):
    """Check every job in the journal against (MO)ASHA's rule at the moment it was taken; return the jobs."""
    asha, seen, jobs = ASHA(max_fidelity, 1, eta), set(), []
    for event in TrialStore(run_dir).events():
        if event.state is TrialState.RUNNING and not event.metrics:  # a job was taken
            if event.index in seen:  # a promotion: the rule must name exactly this trial first
                assert asha.next_promotion() == (event.index, event.fidelity)
                asha.promote(asha.next_promotion())
            else:  # a new architecture: only when nothing could be promoted
                assert asha.next_promotion() is None
                seen.add(event.index)
            jobs.append((event.index, event.fidelity))
        elif event.metrics or event.state is TrialState.FAILED:
            if event.state is not TrialState.PRUNED:
                asha.on_result(event.index, int(event.fidelity), costs(event.metrics, objectives))
    return jobs


@pytest.mark.parametrize("workers", [1, 2])
def test_asha_run_promotes_by_its_rule_and_prunes_the_rest(tmp_path, workers):
    cfg = tiny_config(tmp_path, **SCHEDULED, run={"budget": 8, "workers": workers, "threads": 1})
    result = run_search(cfg)
    states = Counter(t.state for t in result.trials)
    assert states[TrialState.COMPLETE] >= 1 and states[TrialState.COMPLETE] + states[TrialState.PRUNED] == 8
    assert all(t.fidelity == 4 for t in result.trials if t.state is TrialState.COMPLETE)
    assert all(t.fidelity < 4 for t in result.trials if t.state is TrialState.PRUNED)
    jobs = replay_asha(result.run_dir)
    assert len({i for i, _ in jobs}) == 8 and result.best.state is TrialState.COMPLETE
    assert os.listdir(os.path.join(result.run_dir, "checkpoints")) == []  # dropped when pruned or completed
    store = TrialStore(result.run_dir)
    assert all(list(store.rung_results(t.index)) == [1, 2, 4][: len(store.rung_results(t.index))]
               for t in result.trials)


def test_keep_checkpoints_and_config_checks(tmp_path):
    cfg = tiny_config(tmp_path, **SCHEDULED, run={"budget": 4, "keep_checkpoints": True})
    result = run_search(cfg)
    kept = os.listdir(os.path.join(result.run_dir, "checkpoints"))
    assert sorted(kept) == sorted(f"trial-{t.index}.pt" for t in result.trials)
    with pytest.raises(SlotnasError, match=r"^scheduler: estim SPOSEstim has no resumable fidelity; .* "
                                           r"with scheduler type ASHA or MOASHA and scheduler.max_fidelity$"):
        tiny_config(tmp_path, estim={"type": "SPOSEstim"}, scheduler={"type": "ASHA"})
    with pytest.raises(SlotnasError, match=r"^scheduler.type: MOASHA ranks rungs by two or more objectives"):
        tiny_config(tmp_path, **{**SCHEDULED, "scheduler": {"type": "MOASHA"}})
    with pytest.raises(SlotnasError, match=r"^scheduler.type: unknown scheduler 'ASHB' \(did you mean 'ASHA'\?\)"):
        tiny_config(tmp_path, **{**SCHEDULED, "scheduler": {"type": "ASHB"}})


def test_moasha_promotes_by_non_dominated_sorting(tmp_path):
    objectives = [{"metric": "val_acc", "mode": "max"}, {"metric": "params", "mode": "min"}]
    cfg = tiny_config(tmp_path, **{**SCHEDULED, "scheduler": {"type": "MOASHA", "eta": 2}}, objectives=objectives,
                      run={"budget": 8, "workers": 2, "threads": 1})
    result = run_search(cfg)
    jobs = replay_asha(result.run_dir, objectives=objectives)  # promotions follow the two-objective ranking
    assert any(f > 1 for _, f in jobs) and {t.state for t in result.trials} <= {TrialState.COMPLETE,
                                                                                TrialState.PRUNED}


def test_hyperband_finds_the_best_with_less_fidelity_than_random_search(tmp_path):
    """Known answer: the best architecture has every Slot at its last candidate (quality 6)."""
    from . import runtime_helpers  # noqa: F401  (registers TestCurveEstim)

    grid = {"type": "RandomSearch"}
    curve = {"type": "TestCurveEstim", "epochs": 9}
    base = dict(construct=[{"type": "mixed_op", "mixed": "index", "candidates": ["NC3", "SC3", "IDT"]}], optim=grid,
                estim=curve, metrics=[])
    hyperband = run_search(tiny_config(tmp_path / "hb", **base, scheduler={"type": "Hyperband", "eta": 3},
                                       run={"budget": 9, "seed": 1}))
    random = run_search(tiny_config(tmp_path / "rs", **base, run={"budget": 9, "seed": 1}))

    def spent(result):  # epochs trained over all trials and rungs
        store = TrialStore(result.run_dir)
        return sum(sum(m["epochs_trained"] for m in store.rung_results(t.index).values()) if t.fidelity
                   else t.metrics["epochs_trained"] for t in result.trials)

    best_arch = {"cells.0": "IDT", "cells.1": "IDT"}
    assert hyperband.best_arch == best_arch == random.best_arch  # all 9 architectures were tried by both
    assert spent(random) == 9 * 9 and spent(hyperband) == 9 * 1 + 3 * 2 + 1 * 6  # 21: bracket 9@1, 3@3, 1@9


def test_bad_scheduler_options_stop_before_any_run_folder(tmp_path):
    for options, message in (({"eta": 1}, r"^scheduler \(ASHA\).eta: expected int >= 2, got int 1$"),
                             ({"min_fidelity": 50}, r"^scheduler.min_fidelity: expected 1 <= min_fidelity <= "
                                                    r"max_fidelity \(4\), got 50$")):
        with pytest.raises(SlotnasError, match=message):
            run_search(tiny_config(tmp_path, **{**SCHEDULED, "scheduler": {"type": "ASHA", **options}}))
    assert not list(tmp_path.iterdir())


def test_bohb_fits_its_optimizer_on_the_highest_rung_with_enough_results(tmp_path):
    from slotnas.callbacks import Callback
    from slotnas.runtime.rungs import rung_trials

    from . import runtime_helpers  # noqa: F401  (registers TestCurveEstim)

    class Keep(Callback):
        def on_search_end(self, run, result):
            self.run = run

    base = dict(construct=[{"type": "mixed_op", "mixed": "index", "candidates": ["NC3", "SC3", "IDT"]}],
                estim={"type": "TestCurveEstim", "epochs": 4}, metrics=[],
                scheduler={"type": "BOHB", "eta": 2, "min_points": 2})
    with pytest.raises(SlotnasError, match=r"^optim.type: RandomSearch fits no model, scheduler BOHB proposes "
                                           r"from one; allowed: SkoptBO, GPBO, XGBoostSMBO, TPE$"):
        tiny_config(tmp_path, **base)
    keep = Keep()
    result = run_search(tiny_config(tmp_path, **base, optim={"type": "TPE", "n_initial": 2}, run={"budget": 9}),
                        callbacks=[keep])
    assert result.best_arch == {"cells.0": "IDT", "cells.1": "IDT"}  # all 9 tried; the best went to 4 epochs
    store, scheduler = keep.run.store, keep.run.scheduler
    rung = scheduler.model_rung(2)
    assert rung == 4  # two results at the top rung by the end
    model_data = [arch for arch, _ in keep.run.optimizer._data]
    assert model_data == [t.arch for t in rung_trials(store, rung)] and len(model_data) >= 2


def test_a_fidelity_budget_in_epochs_bounds_the_run(tmp_path):
    from slotnas.config import validate

    from .helpers import TINY

    raw = {**TINY, **SCHEDULED, "scheduler": {"type": "ASHA", "eta": 2, "fidelity_budget": 7},
           "run": {k: v for k, v in TINY["run"].items() if k != "budget"}}
    raw["run"]["out"] = str(tmp_path)
    cfg = validate(raw)
    assert cfg["run"]["budget"] == 7  # no run.budget: as many architectures as 7 epochs can start
    result = run_search(cfg)
    store = TrialStore(result.run_dir)
    spent = sum(max(store.rung_results(t.index)) for t in result.trials)  # continued trials: their top rung
    assert 7 <= spent <= 7 + 2  # jobs start while less than 7 epochs are handed out; the last may overshoot
    assert {t.state for t in result.trials} <= {TrialState.COMPLETE, TrialState.PRUNED}


def test_a_user_training_loop_that_reports_is_stopped_by_asha(tmp_path):
    """Stopping mode: each trial runs towards 9 epochs and stops at a rung (1, 3) unless it is in the
    top third of the results known there when it started (one worker: every earlier trial)."""
    from slotnas.schedulers import StopRule

    from . import runtime_helpers  # noqa: F401  (registers TestReportingEstim)

    base = dict(construct=[{"type": "mixed_op", "mixed": "index", "candidates": ["NC3", "SC3", "IDT"]}],
                estim={"type": "TestReportingEstim", "epochs": 9}, metrics=[])
    with pytest.raises(SlotnasError, match=r"^scheduler: estim TestReportingEstim has no resumable fidelity"):
        tiny_config(tmp_path, **base, scheduler={"type": "Hyperband", "max_fidelity": 9})
    cfg = tiny_config(tmp_path, **base, scheduler={"type": "ASHA", "eta": 3, "max_fidelity": 9},
                      run={"budget": 9, "seed": 3})
    result = run_search(cfg)
    objectives = ({"metric": "val_acc", "mode": "max"},)
    known = {1: [], 3: []}
    for trial in result.trials:  # replay the rule in trial order
        rule = StopRule((1, 3, 9), 3, objectives, {r: tuple(v) for r, v in known.items()})
        expected = next((s for s in (1, 3) if rule.stops(s, trial.intermediate[s])), None)
        if expected is None:
            assert trial.state is TrialState.COMPLETE and trial.fidelity == 9 and len(trial.intermediate) == 9
        else:
            assert trial.state is TrialState.PRUNED and trial.fidelity == expected
            assert trial.metrics["epochs_trained"] == expected and max(trial.intermediate) == expected
        for step in (1, 3):
            if step in trial.intermediate:
                known[step].append(costs(trial.intermediate[step], objectives))
    states = Counter(t.state for t in result.trials)
    assert states[TrialState.PRUNED] >= 3 and result.best.state is TrialState.COMPLETE
    assert sum(t.metrics["epochs_trained"] for t in result.trials) < 9 * 9
    stored = TrialStore(result.run_dir).get(result.trials[0].index)
    assert stored.intermediate == result.trials[0].intermediate  # the curve is in the journal


def test_data_and_resolution_views():
    from slotnas.data import TensorBatches
    from slotnas.estim.fidelities import FirstBatches, Resized

    batches = TensorBatches(torch.randn(50, 1, 8, 8), torch.arange(50), batch_size=10, shuffle=True)
    half = FirstBatches(batches, 50)
    assert len(half) == 3 and sum(len(y) for _, y in half) == 30  # ceil(5 * 50 / 100) batches of 10
    assert len(FirstBatches(batches, 1)) == 1
    small = list(Resized(batches, 4))
    assert len(small) == 5 and all(x.shape == (10, 1, 4, 4) for x, _ in small)
    same = next(iter(Resized(TensorBatches(torch.ones(2, 1, 8, 8), torch.zeros(2), 2), 8)))[0]
    assert torch.equal(same, torch.ones(2, 1, 8, 8))  # full size: untouched


@pytest.mark.parametrize("fidelity, options, rungs", [
    ("resolution", {"min_fidelity": 2, "eta": 2}, [2, 4, 8]),  # pixels of the 8x8 digits
    ("data", {"min_fidelity": 25, "eta": 2}, [25, 50, 100]),   # percent of each epoch's batches
])
def test_data_and_resolution_fidelities_train_each_rung_from_scratch(tmp_path, fidelity, options, rungs):
    cfg = tiny_config(tmp_path, estim={"type": "SubNetEstim", "epochs": 2, "fidelity": fidelity},
                      trainer={"epochs": 2, "lr": 0.05}, scheduler={"type": "ASHA", **options},
                      run={"budget": 4, "keep_checkpoints": True})
    result = run_search(cfg)
    store = TrialStore(result.run_dir)
    assert any(t.state is TrialState.COMPLETE and t.fidelity == rungs[-1] for t in result.trials)
    for trial in result.trials:
        reached = list(store.rung_results(trial.index))
        assert reached == rungs[: len(reached)]
    assert os.listdir(os.path.join(result.run_dir, "checkpoints")) == []  # nothing to continue from
    with pytest.raises(SlotnasError, match=r"^estim.fidelity: 'pixels' not allowed; allowed: epochs, data, "
                                           r"resolution$"):
        run_search(tiny_config(tmp_path, estim={"type": "SubNetEstim", "fidelity": "pixels"}))


def test_rung_results_reach_callbacks_and_the_progress_bar(tmp_path, capsys):
    from slotnas.callbacks import Callback

    class Reports(Callback):
        def __init__(self):
            self.paused = []

        def on_trial_report(self, run, trial):
            self.paused.append((trial.index, trial.fidelity, trial.state))

    reports = Reports()
    result = run_search(tiny_config(tmp_path, **SCHEDULED, run={"budget": 4, "progress": True}), callbacks=[reports])
    journal = [(t.index, t.fidelity, t.state) for t in TrialStore(result.run_dir).events()
               if t.state is TrialState.RUNNING and t.metrics]
    assert reports.paused == journal and len(journal) >= 4  # every architecture paused at rung 1 at least
    err = capsys.readouterr().err
    assert "rungs=1:4 2:" in err and "rungs=," not in err  # the bar's postfix counts results per rung
