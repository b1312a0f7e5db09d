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


def batch_sizes_seen(trial):
    """An objective that reports the batch size its data now has."""
    x, _ = next(iter(trial.data.train))
    return {"val_acc": float(len(x)), "val_batches": float(len(list(trial.data.val)))}


def test_the_batch_size_is_a_searchable_data_hyperparameter(tmp_path):
    hparams = {"data.batch_size": {"type": "categorical", "choices": [16, 32, 128]}}
    result = run_search(tiny_config(tmp_path, hparams=hparams, optim={"type": "GridSearch"},
                                    estim={"type": "Objective", "fn": batch_sizes_seen}, run={"budget": 6}))
    for trial in result.trials:
        assert trial.metrics["val_acc"] == trial.arch["data.batch_size"]  # the trial's batches have its size
    assert {t.arch["data.batch_size"] for t in result.trials} == {16, 32, 128}
    sizes = {t.arch["data.batch_size"]: t.metrics["val_batches"] for t in result.trials}
    assert sizes[16] > sizes[32] > sizes[128]


@pytest.mark.parametrize("entry, message", [
    ({"type": "float", "low": 8, "high": 64}, r"hparams.data.batch_size: expected positive integers"),
    ({"type": "categorical", "choices": [32, 0]}, r"hparams.data.batch_size: expected positive integers"),
])
def test_bad_batch_size_hyperparameters(tmp_path, entry, message):
    with pytest.raises(SlotnasError, match=message):
        tiny_config(tmp_path, hparams={"data.batch_size": entry})
    with pytest.raises(SlotnasError, match=r"hparams.data.shuffle: unknown data hyperparameter 'data.shuffle'"):
        tiny_config(tmp_path, hparams={"data.shuffle": {"type": "categorical", "choices": [True, False]}})


def test_dataloaders_are_rebuilt_with_the_new_batch_size_and_keep_their_order_and_shuffling():
    import torch

    from slotnas.data import DataBundle

    dataset = torch.utils.data.TensorDataset(torch.arange(20.0).view(20, 1), torch.zeros(20, dtype=torch.long))
    train = torch.utils.data.DataLoader(dataset, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    val = torch.utils.data.DataLoader(dataset, batch_size=4)
    bundle = DataBundle(train, val, None, (1, 1, 1), 2)
    bundle.set_batch_size(8)
    assert [len(x) for x, _ in bundle.train] == [8, 8, 4] and [len(x) for x, _ in bundle.val] == [8, 8, 4]
    assert isinstance(bundle.train.sampler, torch.utils.data.RandomSampler)
    assert torch.cat([x for x, _ in bundle.val]).flatten().tolist() == list(range(20))
