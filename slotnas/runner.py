"""Runner: config -> model -> construct -> estimator.run(optimizer) -> run folder and export."""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .arch_space.backbones import build_model
from .arch_space.construct import construct
from .arch_space.export import fix, to_onnx
from .arch_space.slotify import slotify
from .data import DataBundle, build_data
from .errors import SlotnasError
from .estim import ESTIMATORS, DefaultEstim, Trainer
from .estim.base import arch_label
from .journal import Journal
from .metrics import METRICS, Metric
from .metrics.criterion import CriterionChain
from .optim import OPTIMIZERS, GradientOptimizer
from .optim.base import Result
from .pareto import costs, pareto_front, write_pareto
from .params import ParamSpace
from .registry import component_options, signature_options


@dataclass
class SearchResult:
    """What a search produced: the run folder, the winner and every evaluated result."""

    run_dir: str
    best_arch: Dict[str, Any]
    best_metrics: Dict[str, Any]
    history: List[Result]
    final_metrics: Optional[Dict[str, Any]]
    model: nn.Module = field(repr=False)
    pareto: List[Result] = field(default_factory=list)
    objectives: List[Dict[str, str]] = field(default_factory=list)


def build_space(cfg: Dict[str, Any], input_shape: Sequence[int], num_classes: int) -> Tuple[nn.Module, ParamSpace]:
    """The model (or template) with its Slots constructed, and the ParamSpace that drives it."""
    if "template" in cfg:
        from .arch_space.templates import build_template

        model = build_template(cfg["template"], input_shape, num_classes)
    else:
        model = build_model(cfg["model"], input_shape, num_classes)
    if cfg["slots"]:
        slotify(model, cfg["slots"])
    return model, construct(model, cfg["construct"])


def build_metric(spec: Dict[str, Any], input_shape: Sequence[int]) -> Metric:
    """A metric from its config; ``input_shape`` comes from the data unless the spec sets it."""
    options = component_options(spec)
    options.setdefault("input_shape", input_shape)
    return METRICS.get(spec["type"])(**options)


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's global generators (weights init, dropout)."""
    random.seed(seed)
    torch.manual_seed(seed)


def run_search(cfg: Dict[str, Any]) -> SearchResult:
    """Run the search a validated config describes; every result lands in the run folder as it arrives."""
    run = cfg["run"]
    seed_everything(run["seed"])
    data = build_data(cfg["data"])
    model, space = build_space(cfg, data.input_shape, data.num_classes)
    journal = Journal(run["out"], cfg, resume=run["resume"])
    metrics = [build_metric(m, data.input_shape) for m in cfg["metrics"]]
    trainer = Trainer(**cfg["trainer"])
    estim = ESTIMATORS.get(cfg["estim"]["type"])(model, space, data, trainer, metrics=metrics, journal=journal,
                                                  progress=run["progress"], criterion=CriterionChain(cfg["criterion"]),
                                                  **component_options(cfg["estim"]))
    optim_cls = OPTIMIZERS.get(cfg["optim"]["type"])
    optim_options = component_options(cfg["optim"])
    if "objectives" in cfg and "objectives" in signature_options(optim_cls)[0]:
        optim_options.setdefault("objectives", cfg["objectives"])
    optim = optim_cls(space, seed=run["seed"], **optim_options)
    history = estim.run(optim, run["budget"])
    objectives = cfg.get("objectives") or [{"metric": optim.objective, "mode": optim.mode},
                                           {"metric": "params", "mode": "min"}]
    front = pareto_front(history, objectives)
    write_pareto(front, history, objectives, journal.path("pareto.csv"), journal.path("pareto.png"))
    best = optim.best()
    if best is None:
        raise SlotnasError("no architecture was evaluated successfully; "
                           f"the errors are in {journal.path('results.jsonl')}")
    best_arch, best_metrics = best
    if not isinstance(optim, GradientOptimizer):  # a gradient run's space already holds the final alphas
        space.update(best_arch)
    fixed = fix(model)
    final = _retrain(fixed, data, trainer, metrics, run)
    if final is not None:
        journal.append({"index": journal.count, "arch": best_arch, "metrics": final, "retrained": True})
    fixed.eval()
    journal.write_yaml("best_arch.yaml", {
        "arch": best_arch, "metrics": _scalars(best_metrics), "final_metrics": final,
        "space": space.to_dict(), "input_shape": list(data.input_shape), "num_classes": data.num_classes,
    })
    torch.save(fixed.state_dict(), journal.path("best_model.pt"))
    if run["export_onnx"]:
        to_onnx(fixed, data.input_shape, journal.path("best_model.onnx"))
    return SearchResult(journal.dir, best_arch, best_metrics, history, final, fixed, front, objectives)


def _retrain(fixed: nn.Module, data: DataBundle, trainer: Trainer, metrics: list,
             run: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """Train the fixed winner from scratch (a plain network, whatever the supernet was)."""
    epochs = trainer.epochs if run["retrain_epochs"] is None else run["retrain_epochs"]
    if epochs <= 0:  # keep the search weights, but with BatchNorm statistics of this architecture
        trainer.recalibrate_bn(fixed, data.train, n_batches=20)
        return None
    estim = DefaultEstim(fixed, ParamSpace(), data, trainer, metrics=metrics, progress=False, epochs=epochs)
    return estim.measure({})


def _scalars(metrics: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}


def load_fixed(run_dir: str) -> nn.Module:
    """Rebuild a run's best architecture as a plain nn.Module with its trained weights."""
    from .config import read_yaml, validate

    cfg = validate(read_yaml(os.path.join(run_dir, "config.yaml")))
    best = read_yaml(os.path.join(run_dir, "best_arch.yaml"))
    model, space = build_space(cfg, best["input_shape"], best["num_classes"])
    space.update(best["space"])
    fixed = fix(model).eval()
    state = torch.load(os.path.join(run_dir, "best_model.pt"), map_location="cpu", weights_only=True)
    fixed.load_state_dict(state)
    return fixed


def results_table(history: Sequence[Result], objective: str, mode: str = "max", top: int = 10) -> str:
    """Text table of the best results: rank, architecture, accuracy, params, latency if measured."""
    key = [{"metric": objective, "mode": mode}]
    ok = sorted((r for r in history if costs(r[1], key) is not None), key=lambda r: costs(r[1], key))
    has_latency = any("latency_ms" in m for _, m in ok)
    header = f"{'rank':>4}  {objective:>8}  {'params':>9}" + ("  latency_ms" if has_latency else "") + "  architecture"
    lines = [header, "-" * len(header)]
    for rank, (arch, m) in enumerate(ok[:top], 1):
        params = f"{m['params']:>9,}" if "params" in m else f"{'-':>9}"
        latency = ""
        if has_latency:
            latency = f"  {m['latency_ms']:>10.3f}" if "latency_ms" in m else " " * 12
        lines.append(f"{rank:>4}  {m[objective]:>8.3f}  {params}{latency}  {arch_label(arch)}")
    failed = len(history) - len(ok)
    if failed:
        lines.append(f"({failed} architecture(s) failed; see results.jsonl)")
    return "\n".join(lines)


def describe(cfg: Dict[str, Any], input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10) -> str:
    """Text summary of a config's space: slots, parameters, candidates per slot, log10 of its size."""
    import math
    from collections import Counter

    from .slot import find_slots

    model, space = build_space(cfg, input_shape, num_classes)
    slots = find_slots(model)
    counts = Counter()
    for param in space:
        choices = getattr(param, "choices", None)
        if choices is None and hasattr(param, "shape"):
            choices = [f"{param.shape[-1]} alphas"]
        counts[", ".join(map(str, choices)) if choices is not None else type(param).__name__] += 1
    log10 = sum(math.log10(p.size()) for p in space if p.size() > 0)
    lines = [f"slots: {len(slots)} in the default architecture", f"architecture parameters: {len(space)}",
             f"size: 10^{log10:.2f} architectures (parameter assignments)", "candidates per parameter:"]
    lines += [f"  {n:>4} x [{choices}]" for choices, n in counts.most_common()]
    return "\n".join(lines)
