"""A run reads well anywhere: header, one line per trial, log.txt, summary.txt, results.csv; failures shown."""
import csv
import os

import pytest
from torch import nn

from slotnas import SlotnasError
from slotnas.arch_space.candidates import CANDIDATES, register_candidate
from slotnas.metrics import METRICS, Metric, register_metric
from slotnas.runtime.search import resume, run_search
from slotnas.summary import summary_text

from .helpers import search_trials, tiny_config


def test_header_trial_lines_log_summary_and_csv(tmp_path, capsys):
    result = run_search(tiny_config(tmp_path, optim={"type": "GridSearch"}, run={"budget": 3, "threads": 1}))
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"slotnas: run folder {result.run_dir}"  # named before any work
    assert err[1].startswith("slotnas: space 2 parameter(s), 10^0.95 architectures; optimizer GridSearch; "
                             "estimator SubNetEstim (epochs=1)")
    assert err[2] == "slotnas: budget 3 trials; device cpu; 1 worker(s) x 1 torch thread(s)"
    trial_lines = [line for line in err if line.startswith("trial ")]  # the bar is off: one line per trial
    assert len(trial_lines) == 3 and all("COMPLETE  val_acc " in line and " s  " in line for line in trial_lines)
    log = open(os.path.join(result.run_dir, "log.txt")).read().splitlines()
    assert log[:3] == err[:3] and log[3:6] == trial_lines
    summary = open(os.path.join(result.run_dir, "summary.txt")).read()
    assert summary == summary_text(result) + "\n" and summary.splitlines()[-1].startswith("best: trial ")
    assert "trials: 3 COMPLETE\n" in summary  # the state counts under the table
    rows = list(csv.DictReader(open(os.path.join(result.run_dir, "results.csv"))))
    stored = search_trials(result.run_dir)
    assert [int(r["index"]) for r in rows] == [t.index for t in stored]
    assert [(r["arch.cells.0"], r["arch.cells.1"]) for r in rows] == [(t.arch["cells.0"], t.arch["cells.1"]) for t in stored]
    assert [float(r["val_acc"]) for r in rows] == [t.metrics["val_acc"] for t in stored]
    assert {r["state"] for r in rows} == {"COMPLETE"}

    resumed = resume(result.run_dir, overrides=["run.budget=4"])
    log = open(os.path.join(resumed.run_dir, "log.txt")).read().splitlines()
    assert f"slotnas: run folder {result.run_dir} (resumed: 3 trial(s) stored)" in log
    assert len(list(csv.DictReader(open(os.path.join(result.run_dir, "results.csv"))))) == 4


class AlwaysFails(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, stride)

    def forward(self, x):
        if self.training:  # in evaluation it works: the preflight check (eval mode) lets the run start
            raise RuntimeError("shape mismatch in a candidate\nsecond line")
        return self.conv(x)


def test_identical_failures_in_a_row_stop_the_run_and_each_new_error_is_shown_once(tmp_path, capsys):
    for name in ("TEST_FAILS_A", "TEST_FAILS_B"):
        register_candidate(name)(lambda slot: AlwaysFails(slot.chn_in, slot.chn_out, slot.stride))
    try:
        with pytest.raises(SlotnasError, match=r"^run.max_consecutive_failures: 3 trials in a row failed with "
                                               r"RuntimeError: shape mismatch in a candidate; finished trials are in "):
            run_search(tiny_config(tmp_path, construct=[{"type": "mixed_op", "mixed": "index",
                                                         "candidates": ["TEST_FAILS_A", "TEST_FAILS_B"]}],
                                   optim={"type": "RandomSearch"}, run={"budget": 8, "max_consecutive_failures": 3}))
    finally:
        CANDIDATES._items.pop("TEST_FAILS_A")
        CANDIDATES._items.pop("TEST_FAILS_B")
    err = capsys.readouterr().err
    assert err.count("failed: RuntimeError: shape mismatch in a candidate (each new error is shown once") == 1
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert [t.state.value for t in search_trials(str(run_dir))] == ["FAILED"] * 3  # nothing finished is lost


def test_a_metric_that_never_succeeds_is_named_before_the_run_and_fails_it_at_the_end(tmp_path, caplog):
    @register_metric("test_never")
    class Never(Metric):
        def compute(self, model):
            raise ValueError("no such counter on this machine")

    try:
        with pytest.raises(SlotnasError, match=r"^metrics: Never failed on every architecture \(ValueError: no such "
                                               r"counter on this machine\); results are in "):
            with caplog.at_level("WARNING", logger="slotnas"):
                run_search(tiny_config(tmp_path, metrics=["params", "test_never"], run={"budget": 2}))
    finally:
        METRICS._items.pop("test_never")
    assert caplog.records[0].getMessage() == ("slotnas: warning: metrics[1] (Never) fails on the default architecture "
                                              "(ValueError: no such counter on this machine)")
    run_dir = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(search_trials(str(run_dir))) == 2 and (run_dir / "summary.txt").exists()


def test_list_verbose_shows_every_option_with_what_it_takes_and_its_default(capsys):
    from slotnas.cli import main

    assert main(["list", "datasets", "-v"]) == 0
    out = capsys.readouterr().out.splitlines()
    digits = out[out.index(next(line for line in out if line.startswith("digits "))) + 1:][:6]
    assert digits == ["    batch_size: int >= 1; default 64", "    val_fraction: float in (0, 1); default 0.2",
                      "    test_fraction: float in (0, 1); default 0.2", "    image_size: int >= 1; default 8",
                      "    channels: int >= 1; default 1", "    seed: int >= 0; default 0"]
    assert main(["list", "optimizers", "-v"]) == 0
    out = capsys.readouterr().out
    assert "    mode: one of 'max', 'min'; default 'max'" in out and "space:" not in out  # injected: not options


def test_the_bar_shows_where_the_training_stands(tmp_path, capsys):
    run_search(tiny_config(tmp_path, run={"budget": 1, "progress": True}))
    err = capsys.readouterr().err
    assert "  training: epoch 1/1, batch 9/9" in err  # 9 batches of 128 digits: the last one is always shown
    assert "search: 100%" in err  # the search bar keeps its own line


def test_the_trainer_reports_epoch_and_batch_at_most_once_a_second():
    import torch

    from slotnas.estim.trainer import Trainer

    shown = []
    trainer = Trainer(epochs=2, lr=0.1)
    trainer.status = shown.append
    batches = [(torch.randn(4, 3), torch.randint(0, 2, (4,))) for _ in range(5)]
    trainer.fit(nn.Linear(3, 2), batches)
    assert shown[0] == "epoch 1/2, batch 1/5" and shown[-1] == "epoch 2/2, batch 5/5"
    assert "epoch 1/2, batch 5/5" in shown and len(shown) <= 4  # throttled: first, each epoch's end, and 1/s


def test_blas_and_openmp_threads_follow_run_threads_while_the_search_runs(tmp_path):
    from threadpoolctl import threadpool_info

    from slotnas.callbacks import Callback

    seen = []

    class Probe(Callback):
        def on_trial_complete(self, run, trial):
            seen.append({lib["internal_api"]: lib["num_threads"] for lib in threadpool_info()})

    run_search(tiny_config(tmp_path, run={"budget": 2, "threads": 1}), callbacks=[Probe()])
    assert seen and all(threads == 1 for pools in seen for threads in pools.values())


def test_the_results_table_counts_trials_by_state():
    from slotnas.summary import results_table
    from slotnas.trials import Trial, TrialState

    done = [Trial(i, {"op": "a"}).finish({"val_acc": 50.0 + i, "params": 10}) for i in range(3)]
    pruned = Trial(3, {"op": "b"}).finish({"val_acc": 20.0}, state=TrialState.PRUNED)
    failed = Trial(4, {"op": "c"}).finish({}, error="RuntimeError: boom", state=TrialState.FAILED)
    table = results_table(done + [pruned, failed], done[::-1], "val_acc")
    assert table.splitlines()[-1] == ("trials: 3 COMPLETE, 1 PRUNED, 1 FAILED (PRUNED: stopped early by the scheduler; "
                                      "failed or without val_acc: see results.jsonl)")
