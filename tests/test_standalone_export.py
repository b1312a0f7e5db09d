"""Exports that stand without slotnas: a torch.export program and ONNX at any batch size; any trial."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from slotnas.cli import main
from slotnas.config import read_yaml
from slotnas.runner import load_fixed
from slotnas.runtime.search import run_search

from .helpers import search_trials, tiny_config

STANDALONE = """
import sys
sys.modules["slotnas"] = None  # any import of slotnas now fails: the program must not need it
import torch
program = torch.export.load(sys.argv[1]).module()
x = torch.load(sys.argv[2], weights_only=True)
with torch.no_grad():
    torch.save(program(x), sys.argv[3])
"""


@pytest.fixture(scope="module")
def exported_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("standalone")
    result = run_search(tiny_config(tmp, optim={"type": "GridSearch"},
                                    run={"budget": 3, "export_onnx": True, "export_program": True}))
    return result.run_dir


def test_the_program_runs_with_torch_alone_and_matches_the_model(exported_run, tmp_path):
    model = load_fixed(exported_run)
    x = torch.randn(5, 1, 8, 8)  # a batch size the export never saw
    torch.save(x, tmp_path / "x.pt")
    script = tmp_path / "standalone.py"
    script.write_text(STANDALONE)
    subprocess.run([sys.executable, str(script), os.path.join(exported_run, "best_model.pt2"), str(tmp_path / "x.pt"),
                    str(tmp_path / "y.pt")], check=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    with torch.no_grad():
        expected = model(x)
    assert torch.allclose(torch.load(tmp_path / "y.pt", weights_only=True), expected, atol=1e-5)


def test_best_model_onnx_runs_at_any_batch_size(exported_run):
    import onnxruntime as ort

    model = load_fixed(exported_run)
    session = ort.InferenceSession(os.path.join(exported_run, "best_model.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 3, 17):
        x = torch.randn(batch, 1, 8, 8)
        (out,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            assert np.allclose(out, model(x).numpy(), atol=1e-4)


def test_export_any_trial_or_pareto_point_says_how_its_weights_came_about(exported_run, capsys):
    assert main(["export", exported_run, "--trial", "1", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "weights: retrained from scratch for 1 epoch(s) (trials do not keep their weights): val_acc " in out
    folder = os.path.join(exported_run, "export", "trial-1")
    assert sorted(os.listdir(folder)) == ["arch.yaml", "model.onnx", "model.pt", "model.pt2"]
    arch = read_yaml(os.path.join(folder, "arch.yaml"))
    trial = next(t for t in search_trials(exported_run) if t.index == 1)
    assert arch["arch"] == trial.arch and arch["trial"] == 1 and arch["final_metrics"]["test_acc"] > 0
    assert main(["export", exported_run, "--pareto", "1", "--epochs", "0"]) == 0
    assert "weights: untrained: fresh initialization (give --epochs to train it)" in capsys.readouterr().out
    assert main(["export", exported_run, "--pareto", "99"]) == 2
    assert main(["export", exported_run, "--trial", "42"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("slotnas: error: export --pareto: the run's front has ")
    assert err[1] == "slotnas: error: export --trial: no trial 42 in this run; allowed: 0, 1, 2"
