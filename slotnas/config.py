"""Config: YAML (safe_load) -> validated dict with defaults; one-line errors naming the key (overrides: overrides.py)."""
from __future__ import annotations

import copy
import os
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Union

from .constraints import NonNegativeInt, PositiveInt
from .errors import ARCHITECTURE_FAILURES, SlotnasError
from .hparams import check_hparams
from .overrides import apply_overrides, check_assignments
from .plugins import load_plugins, resolve_paths
from .registry import Registry, check_keys, check_options, check_value, component_options
from .yaml_io import read_yaml_file

DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "configs", "default.yaml")

TOP_KEYS = ("model", "template", "slots", "construct", "elastic", "optim", "estim", "trainer", "data", "metrics", "criterion",
            "objectives", "scheduler", "run", "plugins", "hparams")
RUN_OPTIONS: Dict[str, Any] = {  # key -> (type, default)
    "seed": (NonNegativeInt, 0),
    "out": (str, "runs"),
    "budget": (PositiveInt, 20),
    "retrain_epochs": (Optional[NonNegativeInt], None),
    "export_onnx": (bool, True),
    "export_program": (bool, True),  # best_model.pt2: a torch.export program that runs with torch alone
    "progress": (bool, True),
    "report": (bool, True),  # report.html in the run folder, refreshed while the search goes
    "tensorboard": (Optional[str], None),  # a folder: TensorBoard logs of the search (pip install slotnas[tensorboard])
    "mlflow": (Optional[dict], None),  # {tracking_uri, experiment, nested}: MLflow runs (pip install slotnas[mlflow])
    "resume": (Optional[str], None),
    "workers": (Union[PositiveInt, Literal["auto"]], "auto"),
    "executor": (Literal["local", "ray"], "local"),
    "threads": (Optional[PositiveInt], None),
    "ray_address": (Optional[str], None),
    "resources": (dict, {"cpu": 1, "gpu": 0}),
    "callbacks": (list, []),
    "catch": (list, list(ARCHITECTURE_FAILURES)),
    "keep_checkpoints": (bool, False),
    "max_consecutive_failures": (Optional[PositiveInt], 10),  # the same error this many times in a row stops
}
DEFAULT_SECTIONS: Dict[str, Any] = {
    "plugins": [],
    "hparams": {},
    "optim": {"type": "RandomSearch"},
    "estim": {"type": "SubNetEstim"},
    "trainer": {},
    "data": {"type": "digits"},
    "metrics": ["params"],
    "slots": [],
    "construct": [],
    "elastic": [],
    "criterion": [],
}
INJECTED = {
    "optim": ("space", "seed"),
    "estim": ("model", "space", "data", "trainer", "metrics", "criterion"),
}


def component_registries() -> Dict[str, Registry]:
    """The registries config sections name components from, every component registered."""
    from .data import DATASETS
    from .estim import ESTIMATORS  # the packages import (and so register) every component
    from .metrics import METRICS
    from .optim import OPTIMIZERS
    from .runner import model_from_run  # noqa: F401 - registers the from_run model

    return {"optim": OPTIMIZERS, "estim": ESTIMATORS, "data": DATASETS, "metrics": METRICS}


def read_yaml(path: str) -> Dict[str, Any]:
    """A YAML mapping from ``path`` (safe_load with size, depth and alias limits); problems raise one line."""
    if not os.path.isfile(path):
        raise SlotnasError(f"config: file {path!r} not found")
    data = read_yaml_file(path)
    if not isinstance(data, dict):
        raise SlotnasError(f"config: {path} must hold a mapping of sections, got {type(data).__name__}")
    return data


def load_config(path: Optional[str] = None, overrides: Sequence[str] = ()) -> Dict[str, Any]:
    """Read, override and validate a config (the embedded default when ``path`` is None)."""
    check_assignments(overrides)  # before the file is read: '--set run.budget 3' must not read a file '3'
    raw = read_yaml(path or DEFAULT_CONFIG)
    if path is not None:
        resolve_paths(raw, os.path.dirname(os.path.abspath(path)))
    return validate(apply_overrides(raw, overrides))


def _component(section: str, spec: Any, registry: Registry, kind: Optional[str] = None) -> Dict[str, Any]:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or "type" not in spec:
        raise SlotnasError(f"{section}: needs 'type'; allowed: {', '.join(registry.names())}")
    options = component_options(spec)
    try:
        cls = registry.get(spec["type"])
    except SlotnasError as exc:
        raise SlotnasError(f"{section}.type: {exc}") from None
    check_options(cls, f"{section} ({spec['type']})", options, injected=INJECTED.get(kind or section, ()))
    return dict(spec)


def _validate_model(spec: Any) -> Dict[str, Any]:
    from .arch_space.backbones import resolve_model

    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise SlotnasError("model: needs 'type' (a registered model, torchvision:NAME or module:Class)")
    builder = resolve_model(spec["type"])
    if not spec["type"].startswith("torchvision:"):
        check_options(builder, f"model ({spec['type']})", component_options(spec))
    return dict(spec)


def _validate_list(section: str, value: Any) -> List[Any]:
    if not isinstance(value, list):
        raise SlotnasError(f"{section}: expected a list, got {type(value).__name__}")
    return value


def _validate_slots(rules: Any) -> List[Dict[str, Any]]:
    from .arch_space.slotify import SlotRule

    for i, rule in enumerate(_validate_list("slots", rules)):
        try:
            SlotRule.from_any(rule)
        except SlotnasError as exc:
            raise SlotnasError(f"slots[{i}]: {exc}") from None
    return rules


def _validate_construct(chain: Any) -> List[Dict[str, Any]]:
    from .arch_space.construct import check_step

    for i, step in enumerate(_validate_list("construct", chain)):
        check_step(step, f"construct[{i}]")
    return chain


def _validate_elastic(rules: Any) -> List[Dict[str, Any]]:
    from .arch_space.elastic import check_rule

    for i, rule in enumerate(_validate_list("elastic", rules)):
        check_rule(rule, f"elastic[{i}]")
    return rules


def _resolve_auto_mixed(cfg: Dict[str, Any], optimizers: Registry) -> None:
    """A ``mixed_op`` step without ``mixed`` or at ``mixed: auto`` gets the optimizer's mixed op (index for
    discrete optimizers, weighted_sum for DARTS, gumbel for SNAS/GDAS, binary_gate for ProxylessNAS)."""
    if not isinstance(cfg["construct"], list):
        return  # _validate_construct reports it
    for step in cfg["construct"]:
        if isinstance(step, dict) and step.get("type") == "mixed_op" and step.get("mixed", "auto") == "auto":
            step["mixed"] = optimizers.get(cfg["optim"]["type"]).mixed_name


def _validate_run(run: Any) -> Dict[str, Any]:
    if not isinstance(run, dict):
        raise SlotnasError(f"run: expected a mapping, got {type(run).__name__}")
    out = {}
    check_keys("run", run, list(RUN_OPTIONS), kind="option")
    for key, value in run.items():
        check_value(f"run.{key}", value, RUN_OPTIONS[key][0])
        out[key] = value
    out = {key: out.get(key, copy.deepcopy(default)) for key, (_, default) in RUN_OPTIONS.items()}
    _check_run_values(out)
    return out


def _check_run_values(run: Dict[str, Any]) -> None:
    """The run keys beyond their type hints: resources, catch and callbacks."""
    from .callbacks import resolve_callback
    from .runtime.evaluate import resolve_catch

    check_keys("run.resources", run["resources"], ["cpu", "gpu"])
    for key, value in run["resources"].items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise SlotnasError(f"run.resources.{key}: expected a number >= 0, got {value!r}")
    resolve_catch(run["catch"])
    if run["mlflow"] is not None:
        from .callbacks.trackers import MLflowLogger

        check_options(MLflowLogger, "run.mlflow", run["mlflow"])
    for i, spec in enumerate(run["callbacks"]):
        resolve_callback(spec, key=f"run.callbacks[{i}]")


def _check_pairing(cfg: Dict[str, Any], registries: Dict[str, Registry]) -> None:
    """The estimator must accept the optimizer's kind (discrete or gradient), checked before any work."""
    kind = getattr(registries["optim"].get(cfg["optim"]["type"]), "kind", "discrete")
    accepts = getattr(registries["estim"].get(cfg["estim"]["type"]), "accepts", "discrete")
    if kind != accepts:
        pairs = [n for n in registries["estim"].names() if getattr(registries["estim"].get(n), "accepts", "") == kind]
        raise SlotnasError(f"estim.type: {cfg['estim']['type']} needs a {accepts} optimizer, but optim "
                           f"{cfg['optim']['type']} is {kind}; with it use estim {' or '.join(pairs)}")
    if accepts == "gradient" and cfg["run"]["workers"] not in ("auto", 1):
        raise SlotnasError(f"run.workers: {cfg['estim']['type']} trains one supernet in one process; "
                           f"allowed: auto or 1, got {cfg['run']['workers']}")


def validate(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """Check every section before any work starts; fill defaults; return a new dict."""
    cfg = copy.deepcopy(dict(raw))
    check_keys("config", cfg, list(TOP_KEYS))
    load_plugins(cfg.setdefault("plugins", []))  # first: what they register may be named below
    if "construct" not in cfg and "elastic" not in cfg:  # a space comes from constructors or elastic rules
        raise SlotnasError("config: missing section 'construct'")
    for key, default in DEFAULT_SECTIONS.items():
        cfg.setdefault(key, copy.deepcopy(default))
    if ("model" in cfg) == ("template" in cfg):
        raise SlotnasError("config: give exactly one of 'model' (an existing network) and 'template' (a search space)")
    registries = component_registries()
    if "model" in cfg:
        cfg["model"] = _validate_model(cfg["model"])
    else:
        from .arch_space.templates import check_template

        cfg["template"] = check_template(cfg["template"])
    cfg["slots"] = _validate_slots(cfg["slots"])
    for section in ("optim", "estim", "data"):
        cfg[section] = _component(section, cfg[section], registries[section])
    _resolve_auto_mixed(cfg, registries["optim"])
    cfg["construct"] = _validate_construct(cfg["construct"])
    cfg["elastic"] = _validate_elastic(cfg["elastic"])
    from .estim.trainer import Trainer

    if not isinstance(cfg["trainer"], dict):
        raise SlotnasError(f"trainer: expected a mapping, got {type(cfg['trainer']).__name__}")
    check_options(Trainer, "trainer", cfg["trainer"])
    cfg["metrics"] = [_component(f"metrics[{i}]", m, registries["metrics"], kind="metrics")
                      for i, m in enumerate(_validate_list("metrics", cfg["metrics"]))]
    cfg["criterion"] = _validate_criterion(cfg["criterion"])
    cfg["hparams"] = check_hparams(cfg["hparams"])
    if "objectives" in cfg:
        from .pareto import check_objectives

        cfg["objectives"] = check_objectives(cfg["objectives"])
    raw_run = cfg.get("run", {})
    cfg["run"] = _validate_run(raw_run)
    if cfg["run"]["executor"] == "local":  # Ray workers may have devices this process does not
        from .estim.trainer import pick_device

        pick_device(cfg["trainer"].get("device", "auto"))
    _check_pairing(cfg, registries)
    if "scheduler" in cfg:
        budget_given = isinstance(raw_run, dict) and "budget" in raw_run
        cfg["scheduler"] = _validate_scheduler(cfg, registries, budget_given)
    return cfg


def _validate_scheduler(cfg: Dict[str, Any], registries: Dict[str, Registry], budget_given: bool) -> Dict[str, Any]:
    """The scheduler's type and options, and that the estimator has a fidelity and the objectives and the
    optimizer fit. A ``fidelity_budget`` without ``run.budget`` lifts the default cap on architectures."""
    from .estim.base import Estimator
    from .schedulers import SCHEDULERS

    spec = _component("scheduler", cfg["scheduler"], SCHEDULERS)
    estim, scheduler = registries["estim"].get(cfg["estim"]["type"]), SCHEDULERS.get(spec["type"])
    stopping = isinstance(estim, type) and issubclass(estim, Estimator) and not estim.resumable()
    max_given = "max_fidelity" in spec or getattr(estim, "fidelity_option", None) in cfg["estim"]
    if stopping and not (getattr(scheduler, "stopping_capable", False) and max_given):
        raise SlotnasError(f"scheduler: estim {cfg['estim']['type']} has no resumable fidelity; multi-fidelity "
                           "schedulers need e.g. SubNetEstim (epochs), or an estimator that reports per epoch "
                           "(Estimator.report) with scheduler type ASHA or MOASHA and scheduler.max_fidelity")
    if getattr(scheduler, "multi_objective", False) and len(cfg.get("objectives") or []) < 2:
        raise SlotnasError(f"scheduler.type: {spec['type']} ranks rungs by two or more objectives; give objectives, "
                           "e.g. [{metric: val_acc, mode: max}, {metric: latency_ms, mode: min}]")
    optim = registries["optim"]
    if getattr(scheduler, "model_based", False) and \
            not getattr(optim.get(cfg["optim"]["type"]), "model_based", False):
        allowed = [n for n in optim.names() if getattr(optim.get(n), "model_based", False)]
        raise SlotnasError(f"optim.type: {cfg['optim']['type']} fits no model, scheduler {spec['type']} proposes "
                           f"from one; allowed: {', '.join(allowed)}")
    epochs = spec.get("fidelity_budget")
    if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0 and not budget_given:
        cfg["run"]["budget"] = epochs // spec.get("min_fidelity", 1) or 1  # as many as the epochs can start
    return spec


def _validate_criterion(steps: Any) -> List[Dict[str, Any]]:
    from .metrics.criterion import AggregateCriterion

    for i, step in enumerate(_validate_list("criterion", steps)):
        if not isinstance(step, dict):
            raise SlotnasError(f"criterion[{i}]: expected {{metric, mode, coeff, target}}, got {step!r}")
        check_options(AggregateCriterion, f"criterion[{i}]", step)
        AggregateCriterion(**step)  # mode and target checks
    return steps
