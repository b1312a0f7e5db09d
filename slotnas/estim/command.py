"""An external program as the objective: ``estim: {type: Command, cmd: [python, train.py, --lr, "{lr}"]}``.

One process per trial, no shell. ``{name}`` in an argument becomes the trial's value of that
architecture parameter or hyperparameter; also ``{arch_file}`` (a YAML file with the trial's ``arch`` and
``hparams``), ``{trial_dir}`` (the trial's folder in the run folder), ``{trial}`` (its index) and
``{seed}``; ``{{`` and ``}}`` are literal braces. The program prints JSON objects on stdout: each line
with a ``step`` key is an intermediate report (a stopping scheduler such as ASHA may end the process
there: PRUNED), and the last JSON line holds the metrics (or, with ``metrics_from: FILE``, the JSON file
it writes). Its stdout and stderr are kept in ``trials/trial-i/``. A non-zero exit or a timeout is a
FAILED trial whose error is the tail of stderr.
"""
from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch

from ..constraints import PositiveFloat, PositiveInt
from ..errors import SlotnasError
from ..files import write_yaml
from ..trials import Metrics
from .base import Estimator, register_estimator

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
BUILTINS = ("arch_file", "trial_dir", "trial", "seed")
LAST_JSON_LINE = "last_json_line"


class CommandFailed(RuntimeError):
    """The program exited with an error, timed out or printed no metrics: the trial is FAILED."""


def substitute(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with every ``{name}`` replaced by ``values[name]`` (``{{``/``}}``: literal braces)."""
    def one(match: "re.Match[str]") -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        return str(values[match.group(1)])
    return PLACEHOLDER.sub(one, text)


def placeholders(text: str) -> List[str]:
    """The names ``{name}`` refers to in ``text``."""
    return [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1) is not None]


def parse_json_line(line: str) -> Optional[Dict[str, Any]]:
    """The JSON object on one output line, or None for any other line."""
    line = line.strip()
    if not (line.startswith("{") and line.endswith("}")):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@register_estimator("Command")
class CommandEstim(Estimator):
    """Runs ``cmd`` once per trial and takes its printed (or written) JSON as the metrics; see the module doc.
    ``timeout``: seconds per trial; ``cwd``: its working directory; ``env``: extra environment variables;
    ``steps``: how many ``step`` reports it prints (a stopping scheduler's max fidelity)."""

    parallel = True
    fidelity_option = "steps"

    def __init__(self, *args: Any, cmd: Sequence[str], metrics_from: str = LAST_JSON_LINE,
                 timeout: Optional[PositiveFloat] = None, cwd: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, steps: Optional[PositiveInt] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(cmd, (list, tuple)) or not cmd or not all(isinstance(a, (str, int, float)) for a in cmd):
            raise SlotnasError(f"estim.cmd: expected a non-empty list of arguments (no shell), got {cmd!r}")
        self.cmd = [str(a) for a in cmd]
        self.metrics_from, self.timeout, self.cwd, self.steps = metrics_from, timeout, cwd, steps
        self.env = {str(k): str(v) for k, v in (env or {}).items()}
        allowed = sorted(set(self.space.names()) | set(BUILTINS))
        texts = [(f"estim.cmd[{i}]", a) for i, a in enumerate(self.cmd)]
        if metrics_from != LAST_JSON_LINE:
            texts.append(("estim.metrics_from", metrics_from))
        for key, text in texts:
            for name in placeholders(text):
                if name not in allowed:
                    raise SlotnasError(f"{key}: unknown placeholder {{{name}}}; allowed: {', '.join(allowed)}")

    @property
    def max_fidelity(self) -> Optional[int]:
        return self.steps

    def _values(self, folder: str) -> Dict[str, Any]:
        values = self.space.to_dict(tensors=False)
        hparams = {n: values[n] for n in self.hparam_names if n in values}
        arch = {n: v for n, v in values.items() if n not in hparams}
        arch_file = os.path.join(folder, "arch.yaml")
        write_yaml(arch_file, {"arch": arch, "hparams": hparams, "trial": self.trial_index})
        seed = torch.initial_seed() % 2 ** 31  # the runtime seeded this trial (same run seed, same value)
        return {**values, "arch_file": arch_file, "trial_dir": folder, "trial": self.trial_index, "seed": seed}

    def estimate(self) -> Metrics:
        folder = self.trial_dir or os.path.join(os.getcwd(), "slotnas-trial")
        os.makedirs(folder, exist_ok=True)
        values = self._values(folder)
        argv = [substitute(a, values) for a in self.cmd]
        last = self._run(argv, folder)
        if self.metrics_from == LAST_JSON_LINE:
            if last is None:
                raise CommandFailed(f"{argv[0]} printed no JSON line of metrics on stdout (see {folder}/stdout.txt)")
            return last
        path = substitute(self.metrics_from, values)
        try:
            with open(path) as fh:
                metrics = json.load(fh)
        except (OSError, ValueError) as exc:
            raise CommandFailed(f"{argv[0]}: cannot read its metrics file {path}: {exc}") from None
        if not isinstance(metrics, dict):
            raise CommandFailed(f"{argv[0]}: {path} holds {type(metrics).__name__}, not a JSON object of metrics")
        return metrics

    def _run(self, argv: List[str], folder: str) -> Optional[Dict[str, Any]]:
        """Run the program, keeping its output in ``folder``; the last JSON object it printed."""
        env = {**os.environ, **self.env}
        try:
            with open(os.path.join(folder, "stdout.txt"), "w") as out, \
                    open(os.path.join(folder, "stderr.txt"), "w") as err:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, cwd=self.cwd, env=env)
                last = self._follow(proc, out, argv[0])
        except OSError as exc:  # e.g. the program does not exist: every trial would fail the same way
            raise SlotnasError(f"estim.cmd: cannot run {argv[0]!r}: {exc.strerror or exc}") from None
        if proc.returncode not in (0, None) and self.reporter.stopped is None:
            raise CommandFailed(f"{argv[0]} exited with {proc.returncode}: {_tail(os.path.join(folder, 'stderr.txt'))}")
        return last

    def _follow(self, proc: "subprocess.Popen[str]", out: Any, program: str) -> Optional[Dict[str, Any]]:
        """Copy stdout line by line, report ``step`` lines, stop the process on a timeout or a pruning."""
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def read() -> None:  # stdout line by line, then None: the program closed it
            for line in iter(proc.stdout.readline, ""):  # type: ignore[union-attr]
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        last = None
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                line = lines.get(timeout=wait)
            except queue.Empty:
                _stop(proc)
                raise CommandFailed(f"{program} timed out after {self.timeout:g} s") from None
            if line is None:
                break
            out.write(line)
            out.flush()
            record = parse_json_line(line)
            if record is None:
                continue
            last = {k: v for k, v in record.items() if k != "step"}
            if "step" in record and self.report(int(record["step"]), last):
                _stop(proc)  # pruned: the metrics so far are the result
                break
        proc.wait()
        return last


def _stop(proc: "subprocess.Popen[str]") -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(path: str, lines: int = 5) -> str:
    """The last non-empty lines of a file, joined on one line."""
    try:
        with open(path, errors="replace") as fh:
            text = [line.strip() for line in fh.read().splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:]) or "(no stderr)"
