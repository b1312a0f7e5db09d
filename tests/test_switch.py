"""Mistakes that are not typos: switching the optimizer in one --set, a missing device, a metric shape."""
import logging

import pytest
import torch
import yaml

from slotnas import SlotnasError
from slotnas.cli import main
from slotnas.config import DEFAULT_CONFIG, load_config, read_yaml, validate
from slotnas.overrides import apply_overrides
from slotnas.runtime.search import search

from .helpers import TINY


@pytest.mark.parametrize("optim, mixed", [("DARTS", "weighted_sum"), ("SNAS", "gumbel"), ("GDAS", "gumbel"),
                                          ("ProxylessNAS", "binary_gate"), ("RandomSearch", "index")])
def test_one_set_switches_the_optimizer_its_estimator_and_the_mixed_op(optim, mixed, caplog):
    with caplog.at_level(logging.WARNING, logger="slotnas"):
        cfg = load_config(None, [f"optim.type={optim}"])
    assert cfg["optim"] == {"type": optim} and cfg["construct"][0]["mixed"] == mixed
    notes = [r.getMessage() for r in caplog.records]
    assert notes[0] == (f"slotnas: note: optim.type={optim} does not take population, sample_size "
                        "(options of RegularizedEvolution); dropped")
    if optim == "RandomSearch":
        assert cfg["estim"]["type"] == "SubNetEstim" and len(notes) == 1
    else:
        assert cfg["estim"] == {"type": "SuperNetEstim", "epochs": 6}  # epochs kept: SuperNetEstim takes it
        assert notes[1] == f"slotnas: note: optim {optim} is gradient; estim.type follows: SuperNetEstim (was SubNetEstim)"


def test_an_estimator_set_explicitly_is_not_switched_and_options_the_new_type_takes_stay():
    with pytest.raises(SlotnasError, match=r"^estim.type: SubNetEstim needs a discrete optimizer, but optim DARTS"):
        load_config(None, ["optim.type=DARTS", "estim.type=SubNetEstim"])
    cfg = load_config(None, ["optim.type=Evolution", "optim.population=6"])
    assert cfg["optim"]["population"] == 6
    raw = apply_overrides(read_yaml(DEFAULT_CONFIG), ["optim.type=NoSuchOptimizer"])
    assert raw["optim"]["population"] == 8  # an unknown type drops nothing; validation names it
    with pytest.raises(SlotnasError, match="optim.type: unknown optimizer 'NoSuchOptimizer'"):
        validate(raw)


def test_a_switched_gradient_search_runs_end_to_end(tmp_path):
    cfg = {**TINY, "construct": [{"type": "mixed_op", "mixed": "auto", "candidates": ["NC3", "IDT"]}],
           "run": {**TINY["run"], "out": str(tmp_path)}}
    result = search(cfg, overrides=["optim.type=GDAS"])
    assert len(result.trials) == 1 and result.best is not None  # one supernet epoch -> one trial


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_a_device_this_machine_lacks_stops_before_any_work(tmp_path, capsys):
    for device, message in (("cuda", "trainer.device: 'cuda' but this machine has 0 CUDA device(s); allowed: auto, cpu"),
                            ("tpu", "trainer.device: 'tpu' is not a device; allowed: auto, cpu, cuda, cuda:N, mps")):
        assert main(["search", "--set", f"trainer.device={device}", "--out", str(tmp_path / "runs")]) == 2
        assert capsys.readouterr().err.strip() == f"slotnas: error: {message}"
    assert not (tmp_path / "runs").exists()


def test_a_metric_shape_that_does_not_fit_stops_before_any_run_folder(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({**TINY, "metrics": ["params", {"type": "latency", "input_shape": [3, 32, 32]}],
                                      "run": {**TINY["run"], "out": str(tmp_path / "runs")}}))
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("slotnas: error: metrics[1] (latency).input_shape [3, 32, 32] does not fit the model "
                          "(the data's is [1, 8, 8]): RuntimeError: ") and "\n" not in err
    assert not (tmp_path / "runs").exists()


def test_a_model_that_does_not_fit_the_data_stops_before_any_run_folder(tmp_path):
    with pytest.raises(SlotnasError, match=r"^model: the default architecture does not run on a batch of the data "
                                           r"\(input \[1, 8, 8\]\): RuntimeError: .*expected input.* to have 3 channels"):
        search({**TINY, "model": {**TINY["model"], "in_channels": 3}, "run": {**TINY["run"], "out": str(tmp_path)}})
    assert not list(tmp_path.iterdir())


def test_a_candidate_that_does_not_fit_its_slot_is_named_before_the_run(tmp_path, caplog):
    from torch import nn

    from slotnas.arch_space.candidates import CANDIDATES, register_candidate

    register_candidate("TEST_WIDE")(lambda slot: nn.Conv2d(slot.chn_in, slot.chn_out * 2, 3, slot.stride, padding=1))
    try:
        with caplog.at_level(logging.WARNING, logger="slotnas"):
            result = search({**TINY, "construct": [{"type": "mixed_op", "mixed": "index",
                                                    "candidates": ["NC3", "TEST_WIDE"]}],
                             "optim": {"type": "GridSearch"}, "run": {**TINY["run"], "out": str(tmp_path), "budget": 4}})
    finally:
        CANDIDATES._items.pop("TEST_WIDE")
    warnings = [r.getMessage() for r in caplog.records if "does not fit slot" in r.getMessage()]
    assert warnings[0] == ("slotnas: warning: candidate TEST_WIDE does not fit slot cells.0 (gives shape [16, 8, 8], "
                           "the slot needs [8, 8, 8]); architectures that choose it will fail")
    assert len(warnings) == 2  # one per slot; the run went on
    assert {t.state.value for t in result.trials} == {"COMPLETE", "FAILED"}
