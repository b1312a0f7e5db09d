import os

import pytest
import torch
from torch import nn

from slotnas import SlotnasError, register_candidate
from slotnas.arch_space import CANDIDATES
from slotnas.cli import main
from slotnas.optim.base import arch_key
from slotnas.runtime import run_search

from .helpers import TINY, search_trials, tiny_config

LATENCY = {"type": "latency", "warmup": 1, "repeats": 3}


class NotExportable(nn.Module):
    """Trains like a 1x1 conv but refuses ONNX tracing."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, stride)

    def forward(self, x):
        if torch.jit.is_tracing():
            raise RuntimeError("this op cannot be exported")
        return self.conv(x)


def test_failing_export_is_recorded_and_the_search_goes_on(tmp_path):
    register_candidate("TEST_NOEXPORT")(lambda s: NotExportable(s.chn_in, s.chn_out, s.stride))
    try:
        cfg = tiny_config(tmp_path, construct=[{"type": "mixed_op", "mixed": "index", "candidates": ["TEST_NOEXPORT", "NC3"]}],
                          optim={"type": "GridSearch"}, metrics=["params", LATENCY], run={"budget": 4})
        result = run_search(cfg)
    finally:
        CANDIDATES._items.pop("TEST_NOEXPORT")
    records = search_trials(result.run_dir)
    assert len(records) == 4 and all("val_acc" in r.metrics for r in records)
    failed = [r for r in records if "LatencyMetric_error" in r.metrics]
    assert len(failed) == 3 and "cannot be exported" in failed[0].metrics["LatencyMetric_error"]
    ok = [r for r in records if "latency_ms" in r.metrics]
    assert [r.arch for r in ok] == [{"cells.0": "NC3", "cells.1": "NC3"}]


def test_pareto_files_and_latency_in_results(tmp_path):
    cfg = tiny_config(tmp_path, metrics=["params", "flops", LATENCY],
                      objectives=[{"metric": "val_acc", "mode": "max"}, {"metric": "latency_ms", "mode": "min"}],
                      optim={"type": "NSGA2", "population": 4}, run={"budget": 5})
    result = run_search(cfg)
    files = set(os.listdir(result.run_dir))
    assert {"pareto.csv", "pareto.png"} <= files
    lines = open(os.path.join(result.run_dir, "pareto.csv")).read().splitlines()
    assert lines[0].startswith("val_acc,latency_ms,") and len(lines) == 1 + len(result.pareto) >= 2
    assert all(t.metrics["latency_ms"] > 0 and t.metrics["macs"] > 0 for t in result.trials)


def test_resume_continues_the_run_in_its_folder(tmp_path):
    cfg = tiny_config(tmp_path, run={"budget": 3, "seed": 4})
    first = run_search(cfg)
    before = search_trials(first.run_dir)
    resumed = run_search(tiny_config(tmp_path, run={"budget": 5, "seed": 4, "resume": first.run_dir}))
    after = search_trials(resumed.run_dir)
    assert resumed.run_dir == first.run_dir
    assert after[:3] == before and len(after) == 5  # the first three were not evaluated again
    assert len({arch_key(t.arch) for t in after}) == 5
    with pytest.raises(SlotnasError, match="run.resume"):
        run_search(tiny_config(tmp_path, run={"resume": str(tmp_path / "nope")}))


def test_criterion_metric_in_search(tmp_path):
    cfg = tiny_config(tmp_path, criterion=[{"metric": "params", "mode": "mul", "coeff": 0.5, "target": 5000}],
                      optim={"type": "RandomSearch", "objective": "criterion", "mode": "min"}, run={"budget": 3})
    result = run_search(cfg)
    for t in result.trials:
        assert t.metrics["criterion"] == pytest.approx(t.metrics["val_loss"] * (t.metrics["params"] / 5000) ** 0.5,
                                                       rel=1e-6)
    assert result.best_metrics["criterion"] == min(t.metrics["criterion"] for t in result.trials)


def test_new_config_sections_are_validated(tmp_path):
    with pytest.raises(SlotnasError, match=r"criterion\[0\]: unknown option 'coef' \(did you mean 'coeff'\?\)"):
        tiny_config(tmp_path, criterion=[{"metric": "params", "coef": 1}])
    with pytest.raises(SlotnasError, match=r"objectives\[1\]"):
        tiny_config(tmp_path, objectives=[{"metric": "val_acc"}, {"metric": "x", "mode": "lowest"}])


def test_latency_table_command(tmp_path, capsys):
    import yaml

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "metrics": ["params", LATENCY]}))
    out = tmp_path / "lut.json"
    assert main(["latency-table", str(config), "--out", str(out), "--samples", "3", "--set", "run.progress=false"]) == 0
    printed = capsys.readouterr().out
    assert out.exists() and "entries" in printed and "MAPE" in printed
