import json
import os

import pytest
import torch

from slotnas import register_candidate
from slotnas.arch_space import CANDIDATES, MixedOp
from slotnas.runner import load_fixed
from slotnas.runtime import run_search
from slotnas.slot import Slot
from slotnas.trials import TrialState

from .helpers import search_trials, tiny_config
from .runtime_helpers import Nan

OPTIMIZERS = ["RandomSearch", "GridSearch", "Evolution", "RegularizedEvolution", "SkoptBO", "XGBoostSMBO"]
OPT_ARGS = {"Evolution": {"population": 2}, "RegularizedEvolution": {"population": 2, "sample_size": 2},
            "SkoptBO": {"n_initial": 2, "n_points": 100}, "XGBoostSMBO": {"n_initial": 2, "n_estimators": 10}}


@pytest.mark.parametrize("estim", [{"type": "SubNetEstim", "epochs": 1},
                                   {"type": "SPOSEstim", "supernet_epochs": 1, "bn_batches": 2}])
@pytest.mark.parametrize("optim", OPTIMIZERS)
def test_every_optimizer_with_each_estimator(tmp_path, optim, estim):
    cfg = tiny_config(tmp_path, optim={"type": optim, **OPT_ARGS.get(optim, {})}, estim=estim, run={"budget": 4})
    result = run_search(cfg)
    records = search_trials(result.run_dir)
    assert len(records) == 4 and result.trials == records
    assert len({json.dumps(r.arch, sort_keys=True) for r in records}) == 4
    assert all(0 <= r.metrics["val_acc"] <= 100 and r.metrics["params"] > 0 for r in records)
    assert result.best_metrics["val_acc"] == max(r.metrics["val_acc"] for r in records)


def test_run_folder_and_export_round_trip(tmp_path):
    cfg = tiny_config(tmp_path, run={"budget": 2, "export_onnx": True, "retrain_epochs": 1})
    result = run_search(cfg)
    files = set(os.listdir(result.run_dir))
    assert {"config.yaml", "results.jsonl", "best_arch.yaml", "best_model.pt", "best_model.onnx"} <= files
    assert result.final_metrics["test_acc"] > 0
    assert len(search_trials(result.run_dir)) == 2
    (retrained,) = search_trials(result.run_dir, kind="retrain")
    assert retrained.arch == result.best_arch and retrained.metrics == result.final_metrics
    fixed = load_fixed(result.run_dir)
    assert not any(isinstance(m, (Slot, MixedOp)) for m in fixed.modules())
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(fixed(x), result.model(x))


def test_same_seed_same_architecture_sequence(tmp_path):
    cfg = tiny_config(tmp_path, optim={"type": "RegularizedEvolution", "population": 2, "sample_size": 2},
                      run={"budget": 4, "seed": 3})
    first = [r.arch for r in search_trials(run_search(cfg).run_dir)]
    second = [r.arch for r in search_trials(run_search(cfg).run_dir)]
    assert first == second


def test_nan_candidate_is_recorded_as_failed_and_search_goes_on(tmp_path):
    register_candidate("TEST_NAN")(lambda s: Nan(s.chn_in, s.chn_out, s.stride))
    try:
        cfg = tiny_config(tmp_path, construct=[{"type": "mixed_op", "mixed": "index", "candidates": ["TEST_NAN", "NC3"]}],
                          optim={"type": "GridSearch"}, run={"budget": 4})
        result = run_search(cfg)
    finally:
        CANDIDATES._items.pop("TEST_NAN")
    records = search_trials(result.run_dir)
    failed = [r for r in records if r.state is TrialState.FAILED]
    assert len(records) == 4 and len(failed) == 3
    assert all(r.error.startswith("NonFiniteLoss: training loss became nan") for r in failed)
    assert result.best_arch == {"cells.0": "NC3", "cells.1": "NC3"}


def test_default_estim_evaluates_the_current_architecture(tmp_path):
    cfg = tiny_config(tmp_path, estim={"type": "DefaultEstim", "epochs": 1}, run={"budget": 5})
    result = run_search(cfg)
    assert len(result.trials) == 1 and "test_acc" in result.best_metrics
    assert result.best_arch == {"cells.0": "NC3", "cells.1": "NC3"}  # the defaults


def test_slotify_torchvision_model_from_config(tmp_path):
    cfg = tiny_config(
        tmp_path,
        model={"type": "torchvision:resnet18"},
        slots=[{"type": "Conv2d", "attrs": {"kernel_size": 3}, "name": "layer4.*"}],
        construct=[{"type": "categorical", "candidates": ["ORIG", "SC3", "IDT"]}],
        data={"type": "digits", "batch_size": 256, "channels": 3, "image_size": 16},
        run={"budget": 2},
    )
    result = run_search(cfg)
    assert all(k.startswith("layer4.") for k in result.best_arch)
    assert len(result.trials) == 2
