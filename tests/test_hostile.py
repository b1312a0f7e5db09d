"""Broken and hostile config files and --set values: one line, exit 2, quickly; never a traceback."""
import os
import re
import subprocess
import sys
import time

import pytest

from slotnas import SlotnasError
from slotnas.cli import main
from slotnas.config import DEFAULT_CONFIG, load_config

BOMB = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else '1'}]\n" for i in range(9))
FILES = {  # content -> the start of the one-line error
    "binary": (os.urandom(64 * 1024).replace(b"\n", b"") + b"\0", r"binary content, not a YAML text file"),
    "latin-1": ("model: {type: caf\xe9}".encode("latin-1"), r"not UTF-8 text \(invalid byte at offset 17\)"),
    "syntax": (b"run: {budget: 3\n", r"line 2: invalid YAML \(expected ',' or '}'"),
    "python tag": (b"model: !!python/object/apply:os.system ['touch M']\n",
                   r"line 1: invalid YAML \(tag !!python/object/apply:os.system not allowed"),
    "alias bomb": (BOMB.encode(), r"expands to more than 100000 values \(aliases\)"),
    "deep nesting": (b"run: " + b"[" * 600 + b"]" * 600 + b"\n", r"nesting deeper than 48 levels \(line 1\)"),
    "huge": (b"# " + b"x" * (2 << 20) + b"\n", r"is larger than 1048576 bytes"),
    "list at the top": (b"- 1\n- 2\n", r"must hold a mapping of sections, got list"),
    "empty": (b"", r"must hold a mapping of sections, got NoneType"),
}


@pytest.mark.parametrize("name", list(FILES))
def test_broken_files_give_one_line_quickly(tmp_path, name):
    content, message = FILES[name]
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    start = time.perf_counter()
    with pytest.raises(SlotnasError, match=r"^config: .*bad.yaml[: ].*" + message) as info:
        load_config(str(path))
    assert time.perf_counter() - start < 2 and "\n" not in str(info.value)


@pytest.mark.parametrize("assignment, message", [
    ("run.budget=[1", r"^--set run.budget line 1: invalid YAML \(expected ',' or '\]'"),
    ("run.budget=!!python/name:os.system", r"^--set run.budget line 1: invalid YAML \(tag !!python/name:os.system"),
    ("run.budget=" + "[" * 100 + "]" * 100, r"^--set run.budget: nesting deeper than 48 levels"),
    ("run.budget", r"^--set 'run.budget': expected KEY=VALUE with no spaces around '='"),
    ("=3", r"^--set '=3': expected KEY=VALUE"),
])
def test_bad_set_values_give_one_line(assignment, message):
    with pytest.raises(SlotnasError, match=message):
        load_config(None, [assignment])


def test_a_set_without_equals_is_not_taken_for_a_config_file(capsys):
    assert main(["search", "--set", "run.budget", "3"]) == 2  # argparse: config '3', override 'run.budget'
    err = capsys.readouterr().err
    assert "--set 'run.budget': expected KEY=VALUE" in err and "'3'" not in err


def test_the_real_cli_on_bad_input_exits_2_with_one_line(tmp_path):
    """A sample of the cases above through `python -m slotnas.cli` in subprocesses."""
    cases = []
    for name in ("binary", "python tag", "alias bomb", "deep nesting"):
        path = tmp_path / f"{name.replace(' ', '_')}.yaml"
        path.write_bytes(FILES[name][0])
        cases.append(["search", str(path)])
    cases.append(["search", DEFAULT_CONFIG, "--set", "run.budget=[1"])
    cases.append(["describe", DEFAULT_CONFIG, "--set", "model.stem=!!python/name:os.system"])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for args in cases:
        proc = subprocess.run([sys.executable, "-m", "slotnas.cli", *args], capture_output=True, text=True,
                              timeout=60, cwd=root)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, (args, proc.stderr)
        assert proc.stderr.startswith("slotnas: error: ") or proc.stderr.startswith("error: "), proc.stderr


@pytest.mark.parametrize("delay", [0.3, 1.5])
def test_ctrl_c_during_start_up_exits_130_without_a_traceback(tmp_path, delay):
    import signal

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "slotnas.cli", "search", "--out", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=root)
    time.sleep(delay)  # importing torch and building the run
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err and err.count("\n") <= 1, err
    assert "interrupted" in err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from slotnas.runtime import run_search

    from .helpers import tiny_config

    return run_search(tiny_config(tmp_path_factory.mktemp("export"), run={"budget": 2})).run_dir


@pytest.mark.parametrize("damage, message", [
    ("missing", r"best_model.pt is missing"),
    ("truncated", r"best_model.pt is damaged or not a weights file"),
    ("random", r"best_model.pt is damaged or not a weights file"),
    ("foreign", r"best_model.pt does not fit the architecture in best_arch.yaml \(missing \["),
    ("tensor", r"best_model.pt is not a state dict of tensors"),
    ("arch", r"best_arch.yaml is damaged: expected input_shape \[C, H, W\], num_classes and space"),
])
def test_a_tampered_run_folder_gives_one_line_from_export(tmp_path, finished_run, capsys, damage, message):
    import shutil

    import torch

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    weights = run_dir / "best_model.pt"
    if damage == "missing":
        weights.unlink()
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "random":
        weights.write_bytes(os.urandom(4096))
    elif damage == "foreign":
        torch.save(torch.nn.Linear(3, 4).state_dict(), weights)
    elif damage == "tensor":
        torch.save(torch.zeros(3), weights)
    else:
        (run_dir / "best_arch.yaml").write_text("input_shape: [1, 8]\nnum_classes: 10\nspace: {}\n")
    assert main(["export", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert re.search(message, err) and err.count("\n") == 0, err


def test_export_onnx_into_a_missing_folder(tmp_path, finished_run, capsys):
    target = tmp_path / "new" / "deeper" / "model.onnx"
    assert main(["export", finished_run, "--onnx", str(target)]) == 0 and target.is_file()


def test_any_random_bytes_as_weights_are_one_line(tmp_path):
    """The unpickler raises whatever random bytes make it raise; every case is the same one-line error."""
    import random

    from torch import nn

    from slotnas.runner import read_state_dict

    path = tmp_path / "best_model.pt"
    for seed in range(60):
        rng = random.Random(seed)
        prefix = [b"", b"PK\x03\x04", b"\x80\x02"][seed % 3]  # plain bytes, a zip header, a pickle header
        path.write_bytes(prefix + rng.randbytes(rng.randint(1, 4096)))
        with pytest.raises(SlotnasError, match="best_model.pt is damaged or not a weights file"):
            read_state_dict(str(path), nn.Linear(2, 2))
