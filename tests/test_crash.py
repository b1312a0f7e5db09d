"""SIGKILL a real `slotnas search` at several moments, then resume: nothing lost, nothing run twice."""
import collections
import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from slotnas.runner import load_fixed
from slotnas.runtime import resume, run_search
from slotnas.store import TrialStore

from .helpers import TINY, tiny_config

BUDGET = 6
CONFIG = {**TINY, "optim": {"type": "RegularizedEvolution", "population": 2, "sample_size": 2},
          "run": {**TINY["run"], "budget": BUDGET, "retrain_epochs": 1, "export_onnx": True, "threads": 1}}


def journal_lines(run_dir):
    path = os.path.join(run_dir, "results.jsonl")
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh.read().split("\n")[:-1] if line.strip()]


def finals(lines, kind="search"):
    return [r for r in lines if r["state"] != "RUNNING" and r["kind"] == kind]


MOMENTS = {  # when to kill, judged from the journal as the run writes it
    "during the first trial": lambda lines: [r["state"] for r in lines] == ["RUNNING"],
    "mid-search": lambda lines: len(finals(lines)) == 3,
    "during the winner's retrain": lambda lines: len(finals(lines)) == BUDGET,
    "during the final export": lambda lines: len(finals(lines, "retrain")) == 1,
}


def kill_at(config_path, out, moment, workers=1):
    """Start `slotnas search`, SIGKILL it when ``moment`` (a name in MOMENTS or a predicate) holds."""
    holds = MOMENTS[moment] if isinstance(moment, str) else moment
    cmd = [sys.executable, "-m", "slotnas.cli", "search", str(config_path), "--out", str(out),
           "--set", f"run.workers={workers}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            runs = glob.glob(os.path.join(out, "*"))
            if runs and holds(journal_lines(runs[0])):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return runs[0]
            if proc.poll() is not None:
                pytest.fail(f"the run ended before '{moment}': {proc.stderr.read().decode()[-500:]}")
            time.sleep(0.005)
        pytest.fail(f"'{moment}' never came")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (in this process) and the config file for the subprocesses."""
    tmp = tmp_path_factory.mktemp("crash")
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    result = run_search(tiny_config(tmp / "ref", **{k: v for k, v in CONFIG.items() if k != "run"},
                                    run=CONFIG["run"]))
    return config, result


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigkill_then_resume_loses_nothing_and_reproduces_the_run(tmp_path, reference, moment):
    config, uninterrupted = reference
    run_dir = kill_at(config, tmp_path, moment)
    before = {r["index"]: r for r in finals(journal_lines(run_dir))}
    result = resume(run_dir)
    lines = journal_lines(run_dir)
    per_index = collections.Counter(r["index"] for r in lines if r["state"] != "RUNNING")
    assert set(per_index.values()) == {1}  # every trial finished exactly once, nothing evaluated twice
    after = {t.index: t.to_record() for t in TrialStore(run_dir)}
    assert all(after[i] == record for i, record in before.items())  # nothing completed was lost or changed
    assert [(t.index, t.arch, t.metrics) for t in result.trials] == \
        [(t.index, t.arch, t.metrics) for t in uninterrupted.trials]  # the same sequence, the same numbers
    assert len(finals(lines, "retrain")) == 1 and result.final_metrics == uninterrupted.final_metrics
    assert {"best_arch.yaml", "best_model.pt", "best_model.onnx", "pareto.csv"} <= set(os.listdir(run_dir))
    assert not [f for f in os.listdir(run_dir) if f.endswith(".tmp")]
    load_fixed(run_dir)  # the exported files are whole


def test_sigkill_of_a_parallel_run_then_resume(tmp_path, reference):
    config, _ = reference
    run_dir = kill_at(config, tmp_path, "mid-search", workers=2)
    before = {r["index"]: r for r in finals(journal_lines(run_dir))}
    result = resume(run_dir, overrides=["run.workers=2"])
    per_index = collections.Counter(r["index"] for r in journal_lines(run_dir) if r["state"] != "RUNNING")
    assert set(per_index.values()) == {1} and len(result.trials) == BUDGET
    assert all(TrialStore(run_dir).get(i).to_record() == record for i, record in before.items())
    assert len({json.dumps(t.arch, sort_keys=True) for t in result.trials}) == BUDGET


def test_sigkill_of_a_one_shot_run_then_resume(tmp_path):
    darts = {**TINY, "optim": {"type": "DARTS", "lr": 3e-3}, "estim": {"type": "SuperNetEstim", "epochs": 4},
             "construct": [{"type": "mixed_op", "candidates": ["NC3", "SC3", "IDT"]}],
             "run": {**TINY["run"], "threads": 1}}
    config = tmp_path / "darts.yaml"
    config.write_text(yaml.safe_dump(darts))
    straight = run_search(tiny_config(tmp_path / "ref", **{k: v for k, v in darts.items() if k != "run"},
                                      run=darts["run"]))
    run_dir = kill_at(config, tmp_path / "out", lambda lines: len(finals(lines, "epoch")) == 1)
    resumed = resume(run_dir)
    epochs = [(t.arch, t.metrics) for t in TrialStore(run_dir).trials("epoch")]
    assert epochs == [(t.arch, t.metrics) for t in straight.trials]
    assert resumed.best_arch == straight.best_arch


ASHA_RUN = {**TINY, "optim": {"type": "TPE", "n_initial": 2}, "estim": {"type": "SubNetEstim", "epochs": 4},
            "trainer": {"epochs": 4, "lr": 0.05}, "scheduler": {"type": "ASHA", "eta": 2},
            "run": {**TINY["run"], "budget": 6, "threads": 1}}


def promotion_in_flight(lines):
    """The last journal line starts a job for a trial that has a rung result already (a promotion)."""
    if len(lines) < 2 or lines[-1]["state"] != "RUNNING" or lines[-1]["metrics"]:
        return False
    return any(r["index"] == lines[-1]["index"] and r["metrics"] for r in lines[:-1])


@pytest.mark.parametrize("moment", ["promotion", "paused"])
def test_sigkill_of_a_multi_fidelity_run_then_resume(tmp_path, moment):
    config = tmp_path / "asha.yaml"
    config.write_text(yaml.safe_dump(ASHA_RUN))
    straight = run_search(tiny_config(tmp_path / "ref", **{k: v for k, v in ASHA_RUN.items() if k != "run"},
                                      run=ASHA_RUN["run"]))
    holds = promotion_in_flight if moment == "promotion" else \
        (lambda lines: sum(1 for r in lines if r["state"] == "RUNNING" and r["metrics"]) == 3)
    run_dir = kill_at(config, tmp_path / "out", holds)
    result = resume(run_dir)

    def outcome(trials):
        return [(t.index, t.arch, t.state, t.fidelity, t.metrics) for t in trials]

    assert outcome(result.trials) == outcome(straight.trials)  # the same jobs, rungs and numbers
    store = TrialStore(run_dir)
    assert all(store.rung_results(t.index) == TrialStore(straight.run_dir).rung_results(t.index)
               for t in result.trials)
    assert os.listdir(os.path.join(run_dir, "checkpoints")) == []


def test_a_second_process_on_a_run_folder_is_refused_and_folders_never_collide(tmp_path):
    import threading

    from slotnas import SlotnasError
    from slotnas.files import lock_run_dir, make_run_dir

    result = run_search(tiny_config(tmp_path / "run", run={"budget": 2}))
    held = lock_run_dir(result.run_dir)  # as if another slotnas process were resuming it
    try:
        with pytest.raises(SlotnasError, match=r"^run.resume: .* is in use by slotnas pid \d+; wait for it"):
            resume(result.run_dir, overrides=["run.budget=3"])
        assert len(TrialStore(result.run_dir).trials()) == 2  # nothing evaluated
    finally:
        held.close()
    assert len(resume(result.run_dir, overrides=["run.budget=3"]).trials) == 3  # free again
    made, threads = [], [threading.Thread(target=lambda: made.append(make_run_dir(str(tmp_path / "many"), "same")))
                         for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 50 and all(os.path.isdir(p) for p in made)
