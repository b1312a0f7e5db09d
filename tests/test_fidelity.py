"""Fidelity: a trial trained to a rung and continued later equals one trained straight through."""
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
