"""Runner: the one factory path from a config to its objects; load_fixed, describe."""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .arch_space.backbones import build_model, register_model
from .arch_space.construct import construct
from .arch_space.export import fix
from .arch_space.slotify import slotify
from .data import DataBundle, build_data
from .errors import SlotnasError, blame
from .estim import ESTIMATORS, Estimator, Trainer
from .metrics import METRICS, Metric
from .metrics.criterion import CriterionChain
from .hparams import add_hparams
from .optim import OPTIMIZERS, Optimizer
from .params import ParamSpace
from .plugins import load_plugins
from .registry import component_options, signature_options
from .summary import space_log10


@dataclass
class Components:
    """What a config builds: data, model and its space, trainer, metrics and the estimator over them."""

    data: DataBundle
    model: nn.Module
    space: ParamSpace
    trainer: Trainer
    metrics: List[Metric]
    estimator: Estimator


def build_space(cfg: Dict[str, Any], input_shape: Sequence[int], num_classes: int) -> Tuple[nn.Module, ParamSpace]:
    """The model (or template) with its Slots constructed, and the ParamSpace that drives it."""
    if "template" in cfg:
        from .arch_space.templates import build_template

        with blame(f"template ({cfg['template'].get('type')})"):
            model = build_template(cfg["template"], input_shape, num_classes)
    else:
        model = build_model(cfg["model"], input_shape, num_classes)
    if cfg["slots"]:
        with blame("slots"):
            slotify(model, cfg["slots"])
    with blame("construct"):
        space = construct(model, cfg["construct"])
    if cfg.get("elastic"):
        from .arch_space.elastic import apply_elastic

        with blame("elastic"):
            apply_elastic(model, cfg["elastic"], space, input_shape)
    return model, space


def build_metric(spec: Dict[str, Any], input_shape: Sequence[int]) -> Metric:
    """A metric from its config; ``input_shape`` comes from the data unless the spec sets it."""
    options = component_options(spec)
    options.setdefault("input_shape", input_shape)
    with blame(f"metrics ({spec['type']})"):
        return METRICS.get(spec["type"])(**options)


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's global generators (weights init, dropout)."""
    random.seed(seed)
    torch.manual_seed(seed)


def build(cfg: Dict[str, Any], data: Optional[DataBundle] = None) -> Components:
    """Everything but the optimizer from a validated config (the main process and every worker use this)."""
    load_plugins(cfg.get("plugins", []))  # a spawned worker imports what the main process did
    seed_everything(cfg["run"]["seed"])
    data = data or build_data(cfg["data"])
    model, space = build_space(cfg, data.input_shape, data.num_classes)
    metrics = [build_metric(m, data.input_shape) for m in cfg["metrics"]]
    with blame("trainer"):
        trainer = Trainer(**cfg["trainer"])
    add_hparams(space, cfg.get("hparams", {}), trainer, data)  # searched jointly with the architecture
    with blame("criterion"):
        criterion = CriterionChain(cfg["criterion"])
    with blame(f"estim ({cfg['estim']['type']})"):
        estim = ESTIMATORS.get(cfg["estim"]["type"])(model, space, data, trainer, metrics=metrics,
                                                      criterion=criterion, **component_options(cfg["estim"]))
    estim.hparam_names = list(cfg.get("hparams", {}))
    return Components(data, model, space, trainer, metrics, estim)


def build_optimizer(cfg: Dict[str, Any], space: ParamSpace) -> Optimizer:
    """The optimizer a validated config names, over ``space`` (NSGA2 gets the config's objectives)."""
    cls = OPTIMIZERS.get(cfg["optim"]["type"])
    options = component_options(cfg["optim"])
    if "objectives" in cfg and "objectives" in signature_options(cls)[0]:
        options.setdefault("objectives", cfg["objectives"])
    with blame(f"optim ({cfg['optim']['type']})"):
        return cls(space, seed=cfg["run"]["seed"], **options)


def load_fixed(run_dir: str, weights: bool = True) -> nn.Module:
    """Rebuild a run's best architecture as a plain nn.Module with its trained weights (or, with
    ``weights=False``, freshly initialized ones)."""
    from .config import read_yaml, validate

    cfg = validate(read_yaml(os.path.join(run_dir, "config.yaml")))
    best = read_best_arch(run_dir)
    model, space = build_space(cfg, best["input_shape"], best["num_classes"])
    space.update({k: v for k, v in best["space"].items() if k not in cfg["hparams"]})  # the architecture only
    fixed = fix(model).eval()
    if weights:
        fixed.load_state_dict(read_state_dict(os.path.join(run_dir, "best_model.pt"), fixed))
    return fixed


@register_model("from_run")
def model_from_run(run: str, weights: bool = False) -> nn.Module:
    """The best architecture of a finished run folder as a fixed network (no Slots): fresh weights, or its
    trained ones with ``weights: true``; e.g. the model a pipeline's tune and retrain steps take."""
    if not os.path.isdir(run):
        raise SlotnasError(f"model.run: {run!r} is not a folder; expected a finished run folder")
    return load_fixed(run, weights=weights).train()


def read_best_arch(run_dir: str) -> Dict[str, Any]:
    """A run's best_arch.yaml, checked: ``input_shape`` (3 positive ints), ``num_classes``, ``space``."""
    from .config import read_yaml

    path = os.path.join(run_dir, "best_arch.yaml")
    if not os.path.isfile(path):
        raise SlotnasError(f"export: {run_dir!r} is not a finished run folder (no best_arch.yaml)")
    best = read_yaml(path)
    shape, classes = best.get("input_shape"), best.get("num_classes")
    if not (isinstance(shape, list) and len(shape) == 3 and all(_positive_int(v) for v in shape)) \
            or not _positive_int(classes) or not isinstance(best.get("space"), dict):
        raise SlotnasError(f"export: {path} is damaged: expected input_shape [C, H, W], num_classes and space")
    return best


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def read_state_dict(path: str, model: nn.Module) -> Dict[str, Any]:
    """Weights for ``model`` from ``path`` (``weights_only=True``); a missing, damaged or foreign file is one line."""
    if not os.path.isfile(path):
        raise SlotnasError(f"export: {path} is missing")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # random bytes make the unpickler raise anything (IndexError, KeyError, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SlotnasError(f"export: {path} is damaged or not a weights file ({reason[:200]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SlotnasError(f"export: {path} is not a state dict of tensors")
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}" if unexpected
                  else f"{shapes[0]} is {tuple(state[shapes[0]].shape)}, the model needs {tuple(own[shapes[0]].shape)}")
        raise SlotnasError(f"export: {path} does not fit the architecture in best_arch.yaml ({detail})")
    return state


def describe(cfg: Dict[str, Any], input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10,
             arch: Optional[Dict[str, Any]] = None, batch_size: Optional[int] = None) -> str:
    """Text summary of a config's space: slots, parameters, candidates per parameter, log10 of its size,
    the architectures a top-k export derives, with ``batch_size`` the peak memory of one training step of
    the searched network, and with ``arch`` the fixed architecture's size."""
    from collections import Counter

    from .slot import find_slots

    model, space = build_space(cfg, input_shape, num_classes)
    slots = find_slots(model)
    counts: Counter = Counter()
    for param in space:
        choices = getattr(param, "choices", None)
        if choices is None and hasattr(param, "shape"):
            choices = [f"{param.shape[-1]} alphas"]
        counts[", ".join(map(str, choices)) if choices is not None else type(param).__name__] += 1
    log10 = space_log10(space)
    lines = [f"slots: {len(slots)} in the default architecture", f"architecture parameters: {len(space)}",
             f"size: 10^{log10:.2f} architectures (parameter assignments)"]
    derived = derived_log10(model, space)
    if derived is not None:
        lines.append(f"derived: 10^{derived:.2f} architectures (top-k edges per node on export, as DARTS counts)")
    lines.append("candidates per parameter:")
    lines += [f"  {n:>4} x [{choices}]" for choices, n in counts.most_common()]
    if batch_size is not None:
        from .memory import estimate_activation_bytes

        acts = estimate_activation_bytes(model, input_shape, num_classes, batch_size) / 2**20
        weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
        lines.append(f"memory at batch {batch_size}, input {list(input_shape)}: ~{acts:,.0f} MiB of activations kept "
                     f"for backward in one training step (measured, from batch 4 and 8 beyond), plus {weights:,.1f} "
                     "MiB of weights (and as much again for gradients and each optimizer state)")
    if arch is not None:
        lines += describe_fixed(model, space, arch, input_shape)
    return "\n".join(lines)


def derived_log10(model: nn.Module, space: ParamSpace) -> Optional[float]:
    """log10 of the architectures a top-k cell export can yield (None without such cells): per node,
    C(edges, k) x non-zero ops^k, once per node parameter group; other parameters count their choices."""
    import math

    from .arch_space.mixed_ops import MixedOp
    from .arch_space.templates.cell import CellNode

    seen, covered, total = set(), set(), 0.0
    for node in (m for m in model.modules() if isinstance(m, CellNode)):
        entities = [edge.entity for edge in node.edges]
        if node.keep is None or not all(isinstance(e, MixedOp) and hasattr(e, "alpha") for e in entities):
            continue
        key = tuple(edge.param_name for edge in node.edges)
        covered.update(key)
        if key in seen:
            continue
        seen.add(key)
        nonzero = sum(1 for zero in entities[0]._is_zero if not zero)
        keep = min(node.keep, len(entities))
        total += math.log10(math.comb(len(entities), keep)) + keep * math.log10(nonzero)
    if not seen:
        return None
    return total + sum(math.log10(p.size()) for p in space if p.name not in covered and p.size() > 0)


def describe_fixed(model: nn.Module, space: ParamSpace, arch: Dict[str, Any], input_shape: Sequence[int]) -> List[str]:
    """Size of the fixed network ``arch`` gives (a best_arch.yaml-style mapping: ``space`` or ``arch``)."""
    from .arch_space.export import apply_arch
    from .metrics import FlopsMetric, count_params

    if "space" in arch:
        names = set(space.names())  # a run's hyperparameters are in its file but not in an architecture space
        space.update({k: v for k, v in arch["space"].items() if k in names})
    else:
        apply_arch(model, space, arch.get("arch", arch))
    fixed = fix(model).eval()
    macs = FlopsMetric(input_shape=input_shape).compute(fixed)["macs"]
    return [f"fixed architecture: {count_params(fixed):,} parameters, {macs / 1e6:,.1f} M MACs "
            f"(input {'x'.join(map(str, input_shape))})"]
