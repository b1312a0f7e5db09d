"""Trial runtime: the store and its journal, resume checks, failure policy, callbacks, parallel workers."""
import json
import logging
import os
import subprocess
import sys

import pytest

import slotnas
from slotnas import Categorical, HandlerError, ParamSpace, SlotnasError
from slotnas.cli import main
from slotnas.optim import OPTIMIZERS, arch_key
from slotnas.runtime import resume, run_search
from slotnas.store import TrialStore
from slotnas.trials import Trial, TrialState

from . import runtime_helpers
from .helpers import TINY, search_trials, tiny_config

GRID = {"type": "GridSearch"}  # 9 architectures of the tiny space, always in the same order
SHUFFLED = {"type": "GridSearch", "shuffle": True}


def metrics_by_arch(trials):
    return {arch_key(t.arch): (t.state, t.error, {k: v for k, v in t.metrics.items()}) for t in trials}


# -- the store -----------------------------------------------------------------------------------
def test_store_replays_the_journal_and_keeps_the_latest_state(tmp_path):
    store = TrialStore(str(tmp_path))
    first = store.start({"a": 1})
    second = store.start({"a": 2})
    store.finish(second.finish({"acc": 0.5}, seconds=1.0))
    store.finish(first.finish({}, error="RuntimeError: boom"))
    store.close()
    again = TrialStore(str(tmp_path))
    assert [(t.index, t.state) for t in again.trials()] == [(0, TrialState.FAILED), (1, TrialState.COMPLETE)]
    assert [(t.index, t.state) for t in again.events()] == [(0, TrialState.RUNNING), (1, TrialState.RUNNING),
                                                            (1, TrialState.COMPLETE), (0, TrialState.FAILED)]
    assert again.get(0).error == "RuntimeError: boom" and again.next_index == 2
    assert Trial.from_record(json.loads(json.dumps(again.get(1).to_record()))) == again.get(1)


@pytest.mark.parametrize("tail", [b'{"index": 2, "state": "COMPL', b"\x00\xffgarbage\n", b"[1, 2]\n",
                                  b'{"index": "x", "arch": {}, "state": "COMPLETE"}\n'])
def test_torn_or_invalid_last_line_is_skipped_with_a_warning(tmp_path, caplog, tail):
    cfg = tiny_config(tmp_path, run={"budget": 2})
    run_dir = run_search(cfg).run_dir
    with open(f"{run_dir}/results.jsonl", "ab") as fh:
        fh.write(tail)
    with caplog.at_level(logging.WARNING, logger="slotnas"):
        result = resume(run_dir, overrides=["run.budget=3"])
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "results.jsonl last line" in warning and "skipped: torn or invalid trial record" in warning
    assert "\n" not in warning
    assert [t.index for t in result.trials] == [0, 1, 2]
    assert len(result.trials) == 3 and all(t.state is TrialState.COMPLETE for t in result.trials)
    assert len(TrialStore(run_dir).trials()) == 3  # the journal reads cleanly afterwards


# -- resume --------------------------------------------------------------------------------------
CHANGES = [
    ("model.stem", {"model": {**TINY["model"], "stem": 16}}),
    ("slots.0", {"slots": [{"type": "Conv2d", "name": "stem.0"}]}),
    ("construct.0.candidates.1", {"construct": [{**TINY["construct"][0], "candidates": ["NC3", "IDT"]}]}),
    ("estim.epochs", {"estim": {"type": "SubNetEstim", "epochs": 2}}),
    ("trainer.lr", {"trainer": {"epochs": 1, "lr": 0.1}}),
    ("data.batch_size", {"data": {"type": "digits", "batch_size": 64}}),
    ("metrics.1", {"metrics": ["params", "flops"]}),
    ("criterion.0", {"criterion": [{"metric": "params", "mode": "add", "coeff": 0.1, "target": 5000}]}),
    ("objectives", {"objectives": [{"metric": "val_acc", "mode": "max"}]}),
    ("optim.type", {"optim": {"type": "RegularizedEvolution"}}),
    ("run.seed", {"run": {"seed": 1}}),
]


@pytest.mark.parametrize("key, change", CHANGES, ids=[c[0] for c in CHANGES])
def test_resume_with_a_config_that_changes_results_is_refused(tmp_path, key, change):
    run_dir = run_search(tiny_config(tmp_path, run={"budget": 1})).run_dir
    before = open(f"{run_dir}/config.yaml").read()
    run = {**change.pop("run", {}), "resume": run_dir, "budget": 2}
    with pytest.raises(SlotnasError, match=rf"^run.resume: {key} is .* here but .* in the run's config.yaml; only "):
        run_search(tiny_config(tmp_path, run=run, **change))
    assert open(f"{run_dir}/config.yaml").read() == before and len(search_trials(run_dir)) == 1


def test_resume_may_change_budget_progress_and_workers(tmp_path):
    run_dir = run_search(tiny_config(tmp_path, run={"budget": 1})).run_dir
    result = run_search(tiny_config(tmp_path, run={"resume": run_dir, "budget": 2, "progress": True, "threads": 1}))
    assert len(result.trials) == 2
    assert "budget: 2" in open(f"{run_dir}/config.yaml").read()  # the next `slotnas resume` continues from here
    assert main(["resume", run_dir, "--set", "run.budget=3"]) == 0
    assert len(search_trials(run_dir)) == 3


def test_resume_of_something_that_is_not_a_run(tmp_path, capsys):
    assert main(["resume", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"slotnas: error: run.resume: {str(tmp_path)!r} is not a run folder " \
                                              "(no config.yaml)"


# -- failure policy ------------------------------------------------------------------------------
def test_a_transform_handler_bug_stops_the_run(tmp_path, capsys):
    cfg = tiny_config(tmp_path, model={"type": "tests.runtime_helpers:BuggyHandlerNet", "stem": 8,
                                       "layout": [[8, 1], [16, 2]]}, optim=SHUFFLED, run={"budget": 18})
    with pytest.raises(HandlerError, match=r"handler BuggyHandlerNet.resize failed on update of width=2: TypeError"):
        run_search(cfg)
    (run_dir,) = list(tmp_path.iterdir())
    trials = TrialStore(str(run_dir)).trials()
    assert trials[-1].state is TrialState.RUNNING and trials[-1].arch["width"] == 2  # stopped right there
    assert all(t.state is TrialState.COMPLETE and t.arch["width"] == 1 for t in trials[:-1])
    config = tmp_path / "buggy.yaml"
    config.write_text(json.dumps({**TINY, "model": cfg["model"], "optim": SHUFFLED,
                                  "run": {**TINY["run"], "out": str(tmp_path)}}))
    assert main(["search", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # the run header and trial lines, then one error line
    assert err[-1].startswith("slotnas: error: handler BuggyHandlerNet.resize failed")
    assert not any(line.startswith(("Traceback", "  File")) for line in err)


def test_catch_decides_which_errors_fail_a_trial(tmp_path, capsys):
    from slotnas import register_candidate
    from slotnas.arch_space import CANDIDATES

    from .runtime_helpers import Nan

    register_candidate("TEST_NAN2")(lambda s: Nan(s.chn_in, s.chn_out, s.stride))
    try:
        construct = [{"type": "mixed_op", "mixed": "index", "candidates": ["TEST_NAN2", "NC3"]}]
        result = run_search(tiny_config(tmp_path, construct=construct, optim=GRID, run={"budget": 4}))
        assert [t.state for t in result.trials] == [TrialState.FAILED] * 3 + [TrialState.COMPLETE]
        with pytest.raises(RuntimeError, match="training loss became nan"):
            run_search(tiny_config(tmp_path, construct=construct, optim=GRID, run={"budget": 2, "catch": []}))
        with pytest.raises(SlotnasError, match=r"^run.catch: 'Bogus' is not an exception class; allowed: builtin"):
            tiny_config(tmp_path, run={"catch": ["Bogus"]})
    finally:
        CANDIDATES._items.pop("TEST_NAN2")


# -- callbacks and the Python API ----------------------------------------------------------------
def test_callbacks_fire_in_order_from_python_and_from_config(tmp_path):
    runtime_helpers.EVENTS.clear()
    cfg = dict(TINY, run={**TINY["run"], "out": str(tmp_path), "callbacks": ["tests.runtime_helpers:Recorder"]})
    result = slotnas.search(cfg, callbacks=[runtime_helpers.Recorder()], overrides=["run.budget=2"])
    events = runtime_helpers.EVENTS
    assert events == ["start 0", "start 0",
                      "trial 0 COMPLETE stored=True", "trial 0 COMPLETE stored=True",
                      "trial 1 COMPLETE stored=True", "trial 1 COMPLETE stored=True",
                      "end 2 model=True", "end 2 model=True"]
    assert isinstance(result, slotnas.SearchResult) and result.best in result.trials


def test_one_shot_runs_report_epochs_to_callbacks(tmp_path):
    runtime_helpers.EVENTS.clear()
    cfg = tiny_config(tmp_path, optim={"type": "DARTS"}, estim={"type": "SuperNetEstim", "epochs": 2},
                      construct=[{"type": "mixed_op", "candidates": ["NC3", "IDT"]}])
    run_search(cfg, callbacks=[runtime_helpers.Recorder()])
    assert runtime_helpers.EVENTS == ["start 0", "epoch 0", "epoch 1", "end 2 model=True"]


def test_bad_callbacks_are_config_errors(tmp_path):
    with pytest.raises(SlotnasError, match=r"^run.callbacks\[0\]: cannot import 'nope:X' \(ModuleNotFoundError"):
        tiny_config(tmp_path, run={"callbacks": ["nope:X"]})
    with pytest.raises(SlotnasError, match=r"^run.callbacks\[0\]: 'tests.runtime_helpers:EVENTS' is not a slotnas"):
        tiny_config(tmp_path, run={"callbacks": ["tests.runtime_helpers:EVENTS"]})
    cfg = tiny_config(tmp_path, run={"callbacks": ["tests.runtime_helpers:not_a_callback"]})  # a factory: called later
    with pytest.raises(SlotnasError, match=r"^run.callbacks: 'tests.runtime_helpers:not_a_callback' made a Identity"):
        run_search(cfg)
    with pytest.raises(SlotnasError, match=r"^run.callbacks\[0\]: 'os:system' names the Python standard library"):
        tiny_config(tmp_path, run={"callbacks": ["os:system"]})
    with pytest.raises(SlotnasError, match=r"^run.callbacks\[0\]: 'tests.runtime_helpers:nn' is not a slotnas"):
        tiny_config(tmp_path, run={"callbacks": ["tests.runtime_helpers:nn"]})  # a module: nothing is called
    assert not list(tmp_path.iterdir())  # refused before any work


def test_cli_summary_uses_the_optimizers_own_ranking(tmp_path, capsys):
    config = tmp_path / "nsga.yaml"
    config.write_text(json.dumps({**TINY, "optim": {"type": "NSGA2", "population": 4}, "metrics": ["params"],
                                  "objectives": [{"metric": "params", "mode": "min"},
                                                 {"metric": "val_acc", "mode": "max"}],
                                  "run": {**TINY["run"], "budget": 4, "out": str(tmp_path)}}))
    assert main(["search", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    rank1 = next(line for line in out if line.strip().startswith("1 "))
    trial, params = rank1.split()[1], rank1.split()[2].replace(",", "")
    assert out[0].split() == ["rank", "trial", "params", "architecture"]  # the first objective ranks
    assert f"best: trial {trial}, params {int(params):,}" in out


# -- optimizers in the asynchronous loop ---------------------------------------------------------
def test_generational_optimizers_wait_for_their_generation():
    space = ParamSpace()
    for i in range(4):
        space.add(Categorical(list("abcd"), name=f"p{i}"))
    opt = OPTIMIZERS.get("Evolution")(space, population=3, seed=0)
    asked = [opt.ask() for _ in range(3)]
    assert opt.waiting()  # the first generation is out; breeding needs its results
    for i, arch in enumerate(asked[:2]):
        opt.tell(Trial(i, arch).finish({"val_acc": float(i)}))
    assert opt.waiting()
    opt.tell(Trial(2, asked[2]).finish({"val_acc": 2.0}))
    assert not opt.waiting() and opt.ask() is not None


def test_two_local_workers_give_the_same_trials_as_one(tmp_path):
    one = run_search(tiny_config(tmp_path / "one", optim=GRID, run={"budget": 9, "threads": 1}))
    two = run_search(tiny_config(tmp_path / "two", optim=GRID, run={"budget": 9, "threads": 1, "workers": 2}))
    assert metrics_by_arch(one.trials) == metrics_by_arch(two.trials)
    assert {t.worker for t in one.trials} == {"main-0"} and {t.worker for t in two.trials} == {"main-0", "local-1"}
    assert sorted(t.index for t in two.trials) == list(range(9))


def test_ray_executor_gives_the_same_trials_as_one_worker(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'slotnas[ray]')")
    one = run_search(tiny_config(tmp_path / "one", optim=GRID, run={"budget": 4, "threads": 1}))
    ray = run_search(tiny_config(tmp_path / "ray", optim=GRID,
                                 run={"budget": 4, "threads": 1, "workers": 2, "executor": "ray"}))
    assert metrics_by_arch(one.trials) == metrics_by_arch(ray.trials)
    assert {t.worker for t in ray.trials} == {"ray-0", "ray-1"}


def test_spos_trains_its_supernet_once_and_workers_evaluate_from_its_weights(tmp_path):
    spos = {"type": "SPOSEstim", "supernet_epochs": 1, "bn_batches": 2}
    one = run_search(tiny_config(tmp_path / "one", estim=spos, optim=GRID, run={"budget": 4, "threads": 1}))
    two = run_search(tiny_config(tmp_path / "two", estim=spos, optim=GRID,
                                 run={"budget": 4, "threads": 1, "workers": 2}))
    assert metrics_by_arch(one.trials) == metrics_by_arch(two.trials)
    assert "local-1" in {t.worker for t in two.trials}  # a spawned worker used the main process's supernet
    assert os.path.isfile(os.path.join(two.run_dir, "shared_state.pt"))
    resumed = run_search(tiny_config(tmp_path / "two", estim=spos, optim=GRID,
                                     run={"budget": 6, "threads": 1, "resume": two.run_dir}))
    assert metrics_by_arch(resumed.trials[:4]) == metrics_by_arch(two.trials)  # same supernet, loaded not retrained
    fresh = run_search(tiny_config(tmp_path / "six", estim=spos, optim=GRID, run={"budget": 6, "threads": 1}))
    assert metrics_by_arch(resumed.trials) == metrics_by_arch(fresh.trials)


def test_a_handler_bug_in_a_spawned_worker_stops_the_run(tmp_path):
    cfg = tiny_config(tmp_path, model={"type": "tests.runtime_helpers:BuggyInWorkerNet", "stem": 8,
                                       "layout": [[8, 1], [16, 2]]}, optim=SHUFFLED,
                      run={"budget": 18, "workers": 2, "threads": 1})
    with pytest.raises(HandlerError, match=r"handler BuggyInWorkerNet.resize failed on update of width=2"):
        run_search(cfg)
    (run_dir,) = list(tmp_path.iterdir())
    trials = TrialStore(str(run_dir)).trials()
    assert not [t for t in trials if t.state is TrialState.FAILED]
    assert all(t.worker == "main-0" for t in trials if t.state is TrialState.COMPLETE)


def test_a_script_without_main_guard_gets_a_clear_error(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(f"import slotnas\nslotnas.search({dict(TINY, run={**TINY['run'], 'workers': 2, 'out': str(tmp_path)})!r})\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode != 0
    assert "needs an if __name__ == '__main__': guard (or set run.workers: 1)" in proc.stderr
    assert "a worker process died while starting or evaluating trial" in proc.stderr


DARTS = dict(optim={"type": "DARTS", "lr": 3e-3}, estim={"type": "SuperNetEstim", "epochs": 3},
             construct=[{"type": "mixed_op", "candidates": ["NC3", "SC3", "IDT"]}], run={"retrain_epochs": 1})


def epochs_of(run_dir):
    return [(t.arch, t.metrics) for t in search_trials(run_dir, kind="epoch")]


@pytest.mark.parametrize("lost_line", [False, True], ids=["after the epoch", "between checkpoint and journal"])
def test_a_one_shot_run_resumes_from_its_checkpoint_as_if_never_stopped(tmp_path, lost_line):
    straight = run_search(tiny_config(tmp_path / "straight", **DARTS))
    with pytest.raises(KeyboardInterrupt):
        run_search(tiny_config(tmp_path / "crash", **DARTS), callbacks=[runtime_helpers.CrashAfterEpoch(1)])
    (run_dir,) = [str(p) for p in (tmp_path / "crash").iterdir()]
    if lost_line:  # the kill came after the checkpoint of epoch 1 was written but before its trial line
        path = f"{run_dir}/results.jsonl"
        lines = open(path).read().splitlines(keepends=True)
        open(path, "w").writelines(lines[:-1])
        assert len(search_trials(run_dir, kind="epoch")) == 1
    resumed = resume(run_dir)
    assert epochs_of(run_dir) == epochs_of(straight.run_dir)  # same alphas, same numbers, each epoch once
    assert [t.fidelity for t in search_trials(run_dir, kind="epoch")] == [1, 2, 3]
    assert resumed.best_arch == straight.best_arch and resumed.final_metrics == straight.final_metrics


def test_a_one_shot_run_without_checkpoint_is_refused(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_search(tiny_config(tmp_path, **DARTS), callbacks=[runtime_helpers.CrashAfterEpoch(0)])
    (run_dir,) = [str(p) for p in tmp_path.iterdir()]
    os.remove(f"{run_dir}/supernet.ckpt")
    with pytest.raises(SlotnasError, match=r"holds 1 one-shot epoch\(s\) but no supernet.ckpt; start a new run"):
        resume(run_dir)
