"""Logging to TensorBoard (run.tensorboard); skipped where the tensorboard extra is not installed."""
import os

import pytest

from slotnas import SlotnasError
from slotnas.runtime.search import run_search

from .helpers import tiny_config

pytest.importorskip("tensorboard", reason="the tensorboard extra (pip install 'slotnas[tensorboard]') is not installed")


def events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (run,) = os.listdir(folder)
    acc = EventAccumulator(os.path.join(folder, run), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return run, acc


def test_a_search_logs_every_trial_the_best_so_far_and_its_hyperparameters(tmp_path):
    hparams = {"trainer.lr": {"type": "log_float", "low": 0.01, "high": 0.1}}
    result = run_search(tiny_config(tmp_path, hparams=hparams, run={"budget": 3, "tensorboard": str(tmp_path / "tb")}))
    run, acc = events(tmp_path / "tb")
    assert run == os.path.basename(result.run_dir)
    tags = acc.Tags()["scalars"]
    assert {"trial/val_acc", "trial/params", "search/best_val_acc"} <= set(tags)
    values = [e.value for e in acc.Scalars("trial/val_acc")]
    assert values == pytest.approx([t.metrics["val_acc"] for t in sorted(result.trials, key=lambda t: t.index)])
    best = [e.value for e in acc.Scalars("search/best_val_acc")]
    assert best == sorted(best) and best[-1] == pytest.approx(result.best.metrics["val_acc"])


def test_a_one_shot_run_logs_its_alphas_as_histograms(tmp_path):
    cfg = tiny_config(tmp_path, construct=[{"type": "mixed_op", "mixed": "weighted_sum", "candidates": ["NC3", "IDT"]}],
                      optim={"type": "DARTS"}, estim={"type": "SuperNetEstim", "epochs": 2},
                      run={"tensorboard": str(tmp_path / "tb")})
    run_search(cfg)
    _, acc = events(tmp_path / "tb")
    assert {"alphas/cells.0", "alphas/cells.1"} <= set(acc.Tags()["histograms"])
    assert len(acc.Histograms("alphas/cells.0")) == 2 and "epoch/val_acc" in acc.Tags()["scalars"]


def test_without_the_package_it_is_a_one_line_error(tmp_path, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    from slotnas.callbacks.trackers import TensorBoardLogger

    with pytest.raises(SlotnasError, match=r"run.tensorboard: needs the tensorboard package; pip install"):
        TensorBoardLogger(str(tmp_path))
