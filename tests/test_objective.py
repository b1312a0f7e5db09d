"""Your own training code as the objective: a function of the trial that returns metrics."""
import pytest
import torch
import torch.nn.functional as F
import yaml

from slotnas import SlotnasError
from slotnas.cli import main
from slotnas.runtime.search import run_search, search
from slotnas.slot import find_slots
from slotnas.trials import TrialState

from .helpers import TINY, search_trials, tiny_config


def my_training(trial):
    """A user's own loop: plain SGD on the config's data for one epoch, then accuracy on the validation split."""
    model = trial.model.to(trial.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for x, y in trial.data.train:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in trial.data.val:
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    trial.report(1, {"val_acc": 100.0 * correct / total})
    chosen = "-".join(slot.candidate for slot in find_slots(model))  # what the model runs: the trial's architecture
    return {"val_acc": 100.0 * correct / total, "ran": chosen}


def count_convs(trial):
    """A known answer without training: the score is the number of NC3 choices (max 2)."""
    return {"score": float(sum(v == "NC3" for v in trial.arch.values()))}


def broken(trial):
    raise RuntimeError("CUDA error: device-side assert (in the user's loop)")


def wrong_return(trial):
    return 42.0


def test_a_user_training_loop_is_the_objective_and_sees_the_trial_architecture(tmp_path):
    result = run_search(tiny_config(tmp_path, construct=[{"type": "categorical", "candidates": ["NC3", "SC3", "IDT"]}],
                                    estim={"type": "Objective", "fn": "tests.test_objective:my_training"},
                                    optim={"type": "GridSearch"}, run={"budget": 4}))
    trials = search_trials(result.run_dir)
    assert len(trials) == 4 and all(t.state is TrialState.COMPLETE for t in trials)
    assert all(t.metrics["ran"] == f"{t.arch['cells.0']}-{t.arch['cells.1']}" for t in trials)
    assert all(t.intermediate[1]["val_acc"] == t.metrics["val_acc"] for t in trials)  # report() reached the store


def test_an_objective_given_in_python_finds_the_known_best(tmp_path):
    cfg = {**TINY, "estim": {"type": "Objective", "fn": count_convs}, "optim": {"type": "GridSearch", "objective": "score"},
           "run": {**TINY["run"], "budget": 9, "out": str(tmp_path)}}
    result = search(cfg)
    assert result.best_arch == {"cells.0": "NC3", "cells.1": "NC3"} and result.best_metrics["score"] == 2.0
    stored = yaml.safe_load(open(f"{result.run_dir}/config.yaml"))
    assert stored["estim"]["fn"] == "tests.test_objective:count_convs"  # the run folder names it: resume works


def test_failures_of_the_objective_follow_the_failure_policy(tmp_path, capsys):
    with pytest.raises(SlotnasError, match="run.max_consecutive_failures: 2 trials in a row failed with RuntimeError"):
        run_search(tiny_config(tmp_path / "a", estim={"type": "Objective", "fn": "tests.test_objective:broken"},
                               run={"budget": 3, "max_consecutive_failures": 2}))
    with pytest.raises(TypeError, match=r"estim.fn 'wrong_return' returned float; expected a dict of metrics"):
        run_search(tiny_config(tmp_path / "b", estim={"type": "Objective", "fn": "tests.test_objective:wrong_return"}))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**TINY, "estim": {"type": "Objective", "fn": "os:getcwd"}}))
    assert main(["search", str(config)]) == 2
    assert "estim.fn: 'os:getcwd' names the Python standard library" in capsys.readouterr().err


def curve(trial):
    """A learning curve known in advance: better architectures climb faster; each step is reported."""
    quality = {"NC3": 3.0, "SC3": 2.0, "IDT": 1.0}
    rate = sum(quality[v] for v in trial.arch.values())
    for step in range(1, 5):
        acc = rate * step
        if trial.report(step, {"val_acc": acc}):
            break
    return {"val_acc": acc}


def test_a_stopping_scheduler_prunes_a_user_objective_through_report(tmp_path):
    result = run_search(tiny_config(tmp_path, estim={"type": "Objective", "fn": "tests.test_objective:curve", "steps": 4},
                                    optim={"type": "GridSearch"}, scheduler={"type": "ASHA", "min_fidelity": 1, "eta": 2},
                                    run={"budget": 9}))
    states = {t.state for t in result.trials}
    assert states == {TrialState.COMPLETE, TrialState.PRUNED}
    assert result.best_arch == {"cells.0": "NC3", "cells.1": "NC3"}
    pruned = [t for t in result.trials if t.state is TrialState.PRUNED]
    assert all(max(t.intermediate) < 4 for t in pruned)  # stopped before the last step
