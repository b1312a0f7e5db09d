"""Hyperparameters in the same space as the architecture: joint search, the trainer and user objectives."""
import math

import pytest

from slotnas import SlotnasError
from slotnas.config import validate
from slotnas.runtime.search import run_search, search
from slotnas.trials import TrialState

from .helpers import TINY, tiny_config

HPARAMS = {"trainer.lr": {"type": "log_float", "low": 0.001, "high": 0.3},
           "trainer.optimizer": {"type": "categorical", "choices": ["sgd", "adam"]},
           "trainer.epochs": {"type": "int", "low": 1, "high": 2, "default": 1}}


def seen_by_the_trainer(trial):
    """An objective that reports what the trainer holds and what it was given as hyperparameters."""
    trainer = trial.estimator.trainer
    return {"score": -abs(math.log10(trial.hparams["trainer.lr"]) + 2), "lr": trainer.lr,
            "optimizer": trainer.optimizer, "epochs": trainer.epochs, **{f"hp.{k}": v for k, v in trial.hparams.items()},
            "cells": "-".join(f"{k}={v}" for k, v in sorted(trial.arch.items()))}


def test_trainer_hyperparameters_are_searched_with_the_architecture_and_reach_the_trainer(tmp_path):
    result = run_search(tiny_config(tmp_path, hparams=HPARAMS, optim={"type": "RandomSearch"}, run={"budget": 4}))
    trials = [t for t in result.trials if t.state is TrialState.COMPLETE]
    assert len(trials) == 4 and all({"cells.0", "cells.1", "trainer.lr", "trainer.optimizer"} <= set(t.arch) for t in trials)
    assert len({t.arch["trainer.lr"] for t in trials}) == 4  # sampled, not fixed
    assert all(0.001 <= t.arch["trainer.lr"] <= 0.3 and t.arch["trainer.optimizer"] in ("sgd", "adam") for t in trials)


def test_the_trainer_and_an_objective_see_each_trials_values(tmp_path):
    cfg = {**TINY, "hparams": HPARAMS, "estim": {"type": "Objective", "fn": seen_by_the_trainer},
           "optim": {"type": "TPE", "objective": "score"}, "run": {**TINY["run"], "budget": 12, "out": str(tmp_path)}}
    result = search(cfg)
    for t in result.trials:
        assert t.metrics["lr"] == t.metrics["hp.trainer.lr"] == t.arch["trainer.lr"]
        assert t.metrics["optimizer"] == t.arch["trainer.optimizer"] and t.metrics["epochs"] == t.arch["trainer.epochs"]
        assert "trainer" not in t.metrics["cells"]  # the objective's arch is the architecture only
    assert result.best_metrics["score"] == max(t.metrics["score"] for t in result.trials)


@pytest.mark.parametrize("hparams, message", [
    ({"trainer.lrr": {"type": "float", "low": 0.1, "high": 1}}, r"^hparams.trainer.lrr: unknown trainer option 'lrr' \(did you mean 'lr'\?\)"),
    ({"trainer.lr": {"type": "log_float", "low": 0, "high": 1}}, r"^hparams.trainer.lr: expected low <= high and low > 0"),
    ({"trainer.lr": {"type": "float", "low": 1, "high": 0.1}}, r"^hparams.trainer.lr: expected low <= high, got low 1"),
    ({"x": {"type": "normal"}}, r"^hparams.x.type: expected one of 'categorical', 'int', 'float', 'log_float'"),
    ({"x": {"type": "categorical", "choices": []}}, r"^hparams.x: categorical needs a non-empty list of choices"),
    ({"x": {"type": "float", "low": "a", "high": 1}}, r"^hparams.x.low: expected float or null, got str 'a'"),
    ({"x": 0.1}, r"^hparams.x: expected a mapping"),
])
def test_bad_hyperparameters_are_one_line_errors(hparams, message):
    with pytest.raises(SlotnasError, match=message):
        validate({**TINY, "hparams": hparams})
