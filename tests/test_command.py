"""External programs as the objective (estim: Command): substitution, output, failures, timeouts, pruning."""
import json
import os
import sys
import textwrap

import pytest
import yaml

from slotnas import SlotnasError
from slotnas.estim.command import parse_json_line, placeholders, substitute
from slotnas.runtime.search import run_search
from slotnas.trials import TrialState

from .helpers import search_trials, tiny_config

PROGRAM = textwrap.dedent('''
    import json, math, sys, time
    import yaml
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    spec = yaml.safe_load(open(args["--arch"]))
    if args.get("--mode") == "fail":
        sys.stderr.write("loading data\\nRuntimeError: CUDA out of memory\\n")
        sys.exit(3)
    if args.get("--mode") == "hang":
        time.sleep(60)
    lr = float(args["--lr"])
    score = 50 - 10 * abs(math.log10(lr) + 2) + 40 * (spec["arch"]["cells.0"] == "NC3")
    print("training", spec["trial"], flush=True)
    for step in range(1, 5):
        print(json.dumps({"step": step, "val_acc": score * step / 4}), flush=True)
    print(json.dumps({"val_acc": score, "lr": lr, "seen_cells1": spec["arch"]["cells.1"]}))
''')


def command_config(tmp_path, mode="ok", **sections):
    program = tmp_path / "train.py"
    program.write_text(PROGRAM)
    estim = {"type": "Command", "cmd": [sys.executable, str(program), "--lr", "{lr}", "--arch", "{arch_file}",
                                         "--mode", mode], **sections.pop("estim", {})}
    return tiny_config(tmp_path / "runs", estim=estim, hparams={"lr": {"type": "log_float", "low": 1e-4, "high": 1.0}},
                       metrics=[], **sections)


def test_each_trial_runs_the_program_with_its_values_and_keeps_its_output(tmp_path):
    result = run_search(command_config(tmp_path, run={"budget": 4}))
    assert len(result.trials) == 4 and all(t.state is TrialState.COMPLETE for t in result.trials)
    for trial in result.trials:
        assert trial.metrics["lr"] == pytest.approx(trial.arch["lr"], rel=1e-9)  # the value passed as {lr}
        assert trial.metrics["seen_cells1"] == trial.arch["cells.1"]  # the architecture passed in arch.yaml
        assert "step" not in trial.metrics and trial.intermediate[4] == {"val_acc": trial.metrics["val_acc"]}
        folder = os.path.join(result.run_dir, "trials", f"trial-{trial.index}")
        spec = yaml.safe_load(open(os.path.join(folder, "arch.yaml")))
        assert spec["hparams"] == {"lr": trial.arch["lr"]} and "lr" not in spec["arch"] and spec["trial"] == trial.index
        assert open(os.path.join(folder, "stdout.txt")).read().startswith(f"training {trial.index}\n")


def test_a_failing_program_is_a_failed_trial_with_the_tail_of_its_stderr(tmp_path):
    cfg = command_config(tmp_path, mode="fail", run={"budget": 2, "max_consecutive_failures": 5})
    with pytest.raises(SlotnasError):  # every trial failed: the run says so in one line
        run_search(cfg)
    trials = search_trials(next((tmp_path / "runs").iterdir()))
    assert [t.state for t in trials] == [TrialState.FAILED] * 2
    assert trials[0].error == ("CommandFailed: " + sys.executable + " exited with 3: loading data | "
                               "RuntimeError: CUDA out of memory")


def test_a_program_that_hangs_is_stopped_at_the_timeout(tmp_path):
    cfg = command_config(tmp_path, mode="hang", estim={"timeout": 1.0}, run={"budget": 1})
    with pytest.raises(SlotnasError):
        run_search(cfg)
    (trial,) = search_trials(next((tmp_path / "runs").iterdir()))
    assert trial.state is TrialState.FAILED and trial.error.endswith("timed out after 1 s")
    assert trial.seconds < 10


def test_step_lines_let_a_stopping_scheduler_prune_the_program(tmp_path):
    cfg = command_config(tmp_path, estim={"steps": 4}, optim={"type": "RandomSearch"},
                         scheduler={"type": "ASHA", "min_fidelity": 1, "eta": 2}, run={"budget": 6})
    result = run_search(cfg)
    pruned = [t for t in result.trials if t.state is TrialState.PRUNED]
    assert pruned and all(max(t.intermediate) < 4 for t in pruned)
    assert any(t.state is TrialState.COMPLETE for t in result.trials)


def test_metrics_from_a_file_the_program_writes(tmp_path):
    script = tmp_path / "write.py"
    script.write_text("import json, sys\njson.dump({'val_acc': 42.0}, open(sys.argv[1], 'w'))\n")
    cfg = command_config(tmp_path, estim={"cmd": [sys.executable, str(script), "{trial_dir}/out.json"],
                                          "metrics_from": "{trial_dir}/out.json"}, run={"budget": 1})
    assert run_search(cfg).trials[0].metrics["val_acc"] == 42.0


@pytest.mark.parametrize("estim, message", [
    ({"cmd": ["python", "train.py", "--lr", "{lrr}"]}, r"estim.cmd\[3\]: unknown placeholder \{lrr\}; allowed: "
                                                       r"arch_file, cells.0, cells.1, lr, seed, trial, trial_dir"),
    ({"cmd": "python train.py"}, r"estim \(Command\).cmd: expected a list of str, got str 'python train.py'"),
    ({"cmd": ["/no/such/program"]}, r"estim.cmd: cannot run '/no/such/program': No such file or directory"),
])
def test_bad_commands_are_one_line_errors(tmp_path, estim, message):
    with pytest.raises(SlotnasError, match=message):
        run_search(command_config(tmp_path, estim=estim, run={"budget": 1}))


def test_substitution_helpers():
    assert substitute("{a}-{{x}}-{b.c}", {"a": 1, "b.c": "z"}) == "1-{x}-z"
    assert placeholders("--{lr} {{literal}} {arch_file}") == ["lr", "arch_file"]
    assert parse_json_line(' {"val_acc": 1} \n') == {"val_acc": 1} and parse_json_line("[1]") is None
    assert parse_json_line("{not json}") is None and json.loads('{"a": 1}') == {"a": 1}
