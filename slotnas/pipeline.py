"""Pipelines (ModularNAS's search → tune → retrain → export): named steps run in the order of their
dependencies, each in its own folder under the pipeline's, inputs taken from earlier steps' outputs.

Step types: ``search`` (and its alias ``tune``): a normal slotnas run of ``config``; ``train``: the same
with DefaultEstim, one training of the fixed network and its files (best_model.pt / .onnx / .pt2);
``export``: ``slotnas export --trial`` of the ``from`` step's best trial; ``pipeline``: a nested pipeline
file. Inputs: ``model_from: STEP`` makes that step's best architecture the model (a fixed network, fresh
weights), ``hparams_from: STEP`` fixes that step's best hyperparameter values. Everything is checked
before the first step; a re-run skips finished steps and resumes an interrupted search.
"""
from __future__ import annotations

import graphlib
import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional

from .constraints import NonNegativeInt
from .errors import SlotnasError
from .files import write_text
from .registry import check_options, check_value, unknown_name_message

STEP_TYPES = ("search", "tune", "train", "export", "pipeline")
STATE = "pipeline.json"


def step_schema(type: str = "search", depends: Optional[List[str]] = None, config: Any = None,
                set: Optional[List[str]] = None, model_from: Optional[str] = None,
                hparams_from: Optional[str] = None, epochs: Optional[NonNegativeInt] = None,
                trial: Optional[NonNegativeInt] = None, pipeline: Optional[str] = None) -> None:
    """One step's keys (``from``, a Python keyword, is checked by hand): ``config`` a file (relative to the
    pipeline file; null: the embedded default) or an inline mapping; ``set`` overrides; ``epochs`` of a train
    step or an export's retraining; ``trial`` an export's trial (default: the best)."""


class Pipeline:
    """A validated pipeline file: its steps in dependency order and each step's checked config."""

    def __init__(self, path: str, out: Optional[str] = None) -> None:
        from .config import read_yaml

        self.path, self.base = path, os.path.dirname(os.path.abspath(path))
        raw = read_yaml(path)
        check_value("pipeline", raw, Dict[str, Any])
        unknown = set(raw) - {"steps", "out"}
        if unknown:
            raise SlotnasError("pipeline: " + unknown_name_message("key", sorted(unknown)[0], ["steps", "out"]))
        steps = raw.get("steps")
        if not isinstance(steps, dict) or not steps:
            raise SlotnasError("pipeline.steps: expected a mapping of step names to steps")
        self.steps: Dict[str, Dict[str, Any]] = {str(k): self._check_step(str(k), v, list(map(str, steps)))
                                                 for k, v in steps.items()}
        graph = {name: set(step["depends"]) for name, step in self.steps.items()}
        try:
            self.order: List[str] = list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            raise SlotnasError(f"pipeline.steps: {' -> '.join(map(str, exc.args[1]))} form a cycle") from None
        default_out = os.path.join("runs", f"pipeline-{os.path.splitext(os.path.basename(path))[0]}")
        self.out = os.path.abspath(out or raw.get("out") or default_out)
        self.configs = {name: self._config(name, step) for name, step in self.steps.items()
                        if step["type"] in ("search", "tune", "train")}
        for name, step in self.steps.items():
            if step["type"] == "pipeline":
                Pipeline(self._file(step["pipeline"]))  # nested files checked now too

    def _check_step(self, name: str, step: Any, names: List[str]) -> Dict[str, Any]:
        where = f"pipeline.steps.{name}"
        if not isinstance(step, dict):
            raise SlotnasError(f"{where}: expected a mapping such as {{type: search, config: search.yaml}}")
        check_options(step_schema, where, {k: v for k, v in step.items() if k != "from"})
        if "from" in step:
            check_value(f"{where}.from", step["from"], str)
        step = {"type": "search", "depends": [], **step}
        if step["type"] not in STEP_TYPES:
            raise SlotnasError(f"{where}.type: {step['type']!r} not allowed; allowed: {', '.join(STEP_TYPES)}")
        for other in step["depends"]:
            if other not in names:
                raise SlotnasError(f"{where}.depends: " + unknown_name_message("step", other, names))
        for key in ("model_from", "hparams_from", "from"):
            source = step.get(key)
            if source is not None and source not in step["depends"]:
                raise SlotnasError(f"{where}.{key}: {source!r} must be one of its depends "
                                   f"({', '.join(step['depends']) or 'none'})")
        needs = {"export": "from", "pipeline": "pipeline"}.get(step["type"])
        if needs and not step.get(needs):
            raise SlotnasError(f"{where}: a {step['type']} step needs '{needs}'")
        return step

    def _file(self, path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(self.base, path)

    def _config(self, name: str, step: Mapping[str, Any], inputs: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
        """The step's config with its inputs (run folders of earlier steps; placeholders before they exist)."""
        from .config import read_yaml, validate
        from .overrides import apply_overrides, check_assignments
        from .plugins import resolve_paths

        where = f"pipeline.steps.{name}"
        source = step.get("config")
        if isinstance(source, dict):
            raw = dict(source)
        else:
            path = None if source is None else self._file(str(source))
            if path is not None and not os.path.isfile(path):
                raise SlotnasError(f"{where}.config: no file {path!r}")
            from .config import DEFAULT_CONFIG

            raw = read_yaml(path or DEFAULT_CONFIG)
            if path is not None:
                resolve_paths(raw, os.path.dirname(path))
        try:
            check_assignments(step.get("set") or [])
            raw = apply_overrides(raw, step.get("set") or [])
            raw = self._inputs(raw, step, inputs or {})
            return validate(raw)
        except SlotnasError as exc:
            raise SlotnasError(f"{where}: {exc}") from None

    def _inputs(self, raw: Dict[str, Any], step: Mapping[str, Any], inputs: Mapping[str, str]) -> Dict[str, Any]:
        """``raw`` with the model, hyperparameters and training a step takes from earlier ones."""
        raw = dict(raw)
        if step.get("model_from"):
            run = inputs.get(step["model_from"], f"<run folder of step {step['model_from']}>")
            raw.update(model={"type": "from_run", "run": run}, construct=[], slots=[])
            raw.pop("template", None)
        if step.get("hparams_from") and step["hparams_from"] in inputs:
            raw["hparams"] = {**raw.get("hparams", {}), **fixed_hparams(inputs[step["hparams_from"]])}
        if step["type"] == "train":
            epochs = step.get("epochs") or raw.get("trainer", {}).get("epochs") or 10
            raw["trainer"] = {**raw.get("trainer", {}), "epochs": epochs}
            raw["estim"] = {"type": "DefaultEstim", "epochs": epochs}
            raw["optim"] = {"type": "GridSearch"}  # the one architecture: the fixed network, fixed values
            raw["run"] = {**raw.get("run", {}), "retrain_epochs": 0, "budget": 1}
        return raw

    # -- running ------------------------------------------------------------------------------
    def run(self, log: Callable[[str], None] = print) -> Dict[str, str]:
        """Run the steps not finished yet, in order; each step's output folder by name."""
        os.makedirs(self.out, exist_ok=True)
        state = self._state()
        for name in self.order:
            if state.get(name, {}).get("done"):
                log(f"pipeline: step {name} done earlier ({state[name]['output']})")
                continue
            log(f"pipeline: step {name} ({self.steps[name]['type']})")
            outputs = {k: v["output"] for k, v in state.items() if v.get("done")}
            state[name] = {"output": self._run_step(name, outputs), "done": True}
            write_text(os.path.join(self.out, STATE), json.dumps(state, indent=1))
        return {name: state[name]["output"] for name in self.order}

    def _state(self) -> Dict[str, Dict[str, Any]]:
        path = os.path.join(self.out, STATE)
        if not os.path.isfile(path):
            return {}
        with open(path) as fh:
            return json.load(fh)

    def _run_step(self, name: str, outputs: Mapping[str, str]) -> str:
        step, folder = self.steps[name], os.path.join(self.out, name)
        if step["type"] == "pipeline":
            Pipeline(self._file(step["pipeline"]), out=folder).run()
            return folder
        if step["type"] == "export":
            return export_step(outputs[step["from"]], folder, step.get("trial"), step.get("epochs"))
        from .runtime.search import resume, run_search

        started = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        if started:  # interrupted: the run continues from its journal
            return resume(os.path.join(folder, started[-1])).run_dir
        cfg = self._config(name, step, outputs)
        cfg["run"]["out"] = folder
        return run_search(cfg).run_dir


def fixed_hparams(run_dir: str) -> Dict[str, Dict[str, Any]]:
    """A finished run's best hyperparameter values, each as a one-choice ``hparams:`` entry."""
    from .config import read_yaml
    from .runner import read_best_arch

    hparams = read_yaml(os.path.join(run_dir, "config.yaml")).get("hparams") or {}
    best = read_best_arch(run_dir)["arch"]
    return {name: {"type": "categorical", "choices": [best[name]]} for name in hparams if name in best}


def export_step(run_dir: str, folder: str, trial: Optional[int], epochs: Optional[int]) -> str:
    """An export step: the run's trained winner as it is (no trial, no epochs given), else ``trial`` (default:
    the best) retrained for ``epochs`` (:func:`exporting.export_trial`); files that run without slotnas."""
    from .exporting import export_trial, write_export_folder
    from .runner import load_fixed, read_best_arch

    if trial is not None or epochs:
        return export_trial(run_dir, trial, epochs=epochs, folder=folder).folder
    best = read_best_arch(run_dir)
    write_export_folder(folder, load_fixed(run_dir), best["input_shape"],
                        {**best, "weights": f"the trained winner of {run_dir}"})
    return folder
