"""Pipelines: steps in dependency order, inputs from earlier steps, resume, nested pipelines, errors."""
import copy
import json
import os

import pytest
import yaml

from slotnas import SlotnasError
from slotnas.cli import main
from slotnas.pipeline import Pipeline
from slotnas.runner import read_best_arch

from .helpers import TINY

TUNE = {**copy.deepcopy(TINY), "hparams": {"trainer.lr": {"type": "log_float", "low": 0.01, "high": 0.3}},
        "construct": [{"type": "fixed", "candidate": "NC3"}], "optim": {"type": "RandomSearch"}}


def write_pipeline(tmp_path, steps, name="p.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"steps": steps}))
    return str(path)


STEPS = {
    "search": {"config": copy.deepcopy(TINY), "set": ["run.budget=2"]},
    "tune": {"depends": ["search"], "model_from": "search", "config": TUNE, "set": ["run.budget=2"]},
    "retrain": {"type": "train", "depends": ["search", "tune"], "model_from": "search", "hparams_from": "tune",
                "config": TUNE, "epochs": 1},
    "export": {"type": "export", "depends": ["retrain"], "from": "retrain"},
}


def test_search_tune_retrain_export_pass_their_outputs_on(tmp_path):
    out = tmp_path / "out"
    outputs = Pipeline(write_pipeline(tmp_path, STEPS), out=str(out)).run(log=lambda line: None)
    assert list(outputs) == ["search", "tune", "retrain", "export"]
    assert all(outputs[name].startswith(str(out / name)) for name in outputs)  # each step in its own folder
    search, tune, retrain = (read_best_arch(outputs[n]) for n in ("search", "tune", "retrain"))
    assert set(search["arch"]) == {"cells.0", "cells.1"} and set(tune["arch"]) == {"trainer.lr"}
    assert retrain["arch"] == tune["arch"]  # trained with the tuned value
    assert retrain["metrics"]["test_acc"] > 0 and retrain["metrics"]["params"] == search["metrics"]["params"]
    assert {"arch.yaml", "model.pt", "model.onnx", "model.pt2"} <= set(os.listdir(outputs["export"]))
    state = json.loads((out / "pipeline.json").read_text())
    assert all(state[name]["done"] for name in STEPS)


def test_a_rerun_skips_finished_steps_and_resumes_an_interrupted_one(tmp_path):
    out = tmp_path / "out"
    path = write_pipeline(tmp_path, {k: STEPS[k] for k in ("search", "tune")})
    first = Pipeline(path, out=str(out)).run(log=lambda line: None)
    state = json.loads((out / "pipeline.json").read_text())
    del state["tune"]  # as if killed after the tune run started: its run folder is there, the step not done
    (out / "pipeline.json").write_text(json.dumps(state))
    lines = []
    second = Pipeline(path, out=str(out)).run(log=lines.append)
    assert second == first  # the same run folders: nothing started again
    assert lines[0].startswith("pipeline: step search done earlier") and lines[1] == "pipeline: step tune (search)"
    assert os.listdir(out / "tune") == [os.path.basename(first["tune"])]


def test_a_nested_pipeline_runs_in_its_step_folder(tmp_path):
    inner = write_pipeline(tmp_path, {"search": STEPS["search"]}, name="inner.yaml")
    outer = write_pipeline(tmp_path, {"inner": {"type": "pipeline", "pipeline": os.path.basename(inner)}})
    outputs = Pipeline(outer, out=str(tmp_path / "out")).run(log=lambda line: None)
    assert outputs["inner"] == str(tmp_path / "out" / "inner")
    assert json.loads((tmp_path / "out" / "inner" / "pipeline.json").read_text())["search"]["done"]


@pytest.mark.parametrize("steps, message", [
    ({"a": {"depends": ["b"], "config": TINY}, "b": {"depends": ["a"], "config": TINY}},
     r"^pipeline.steps: (a -> b -> a|b -> a -> b) form a cycle$"),
    ({"a": {"config": TINY}, "b": {"model_from": "a", "config": TINY}},
     r"^pipeline.steps.b.model_from: 'a' must be one of its depends \(none\)$"),
    ({"a": {"depends": ["serch"], "config": TINY}}, r"^pipeline.steps.a.depends: unknown step 'serch'"),
    ({"a": {"type": "retune", "config": TINY}}, r"^pipeline.steps.a.type: 'retune' not allowed; allowed: search, "),
    ({"a": {"type": "export"}}, r"^pipeline.steps.a: a export step needs 'from'$"),
    ({"a": {"config": {**TINY, "optim": {"type": "RandomSerch"}}}}, r"^pipeline.steps.a: optim.type: unknown optimizer"),
    ({"a": {"config": "missing.yaml"}}, r"^pipeline.steps.a.config: no file"),
    ({"a": {"config": TINY, "epoch": 3}}, r"^pipeline.steps.a: unknown option 'epoch'"),
])
def test_bad_pipelines_are_one_line_errors_before_any_work(tmp_path, steps, message):
    with pytest.raises(SlotnasError, match=message):
        Pipeline(write_pipeline(tmp_path, steps), out=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_the_pipeline_command(tmp_path, capsys):
    path = write_pipeline(tmp_path, {"search": STEPS["search"]})
    assert main(["pipeline", path, "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.startswith(f"search: {tmp_path / 'out' / 'search'}")
    assert main(["pipeline", write_pipeline(tmp_path, {"a": {"type": "export"}}, name="bad.yaml")]) == 2


def test_the_shipped_pipeline_is_valid_and_ordered():
    from slotnas.config import DEFAULT_CONFIG

    pipeline = Pipeline(os.path.join(os.path.dirname(DEFAULT_CONFIG), "pipeline_digits.yaml"))
    assert pipeline.order == ["search", "tune", "retrain", "export"]
    assert pipeline.configs["retrain"]["estim"]["type"] == "DefaultEstim"
    assert pipeline.configs["tune"]["model"]["type"] == "from_run"
