"""Export any evaluated architecture of a run (a trial, a Pareto point) as files that run without slotnas."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from torch import nn

from .arch_space.export import apply_arch, fix, to_onnx, to_program
from .arch_space.templates.cell import genotype_entry
from .errors import SlotnasError
from .files import atomic_write, save_torch, write_yaml
from .trials import Trial, TrialState


@dataclass
class Exported:
    """What ``export_trial`` wrote: the trial, how its weights came about, and the files."""

    trial: Trial
    weights: str  # e.g. "retrained from scratch for 6 epoch(s)"
    final_metrics: Optional[Dict[str, Any]]
    folder: str
    files: List[str]
    model: nn.Module
    input_shape: List[int]


def save_portable(model: nn.Module, input_shape: Sequence[int], onnx: Optional[str] = None,
                  program: Optional[str] = None) -> List[str]:
    """Write a fixed model as files that run without slotnas, atomically (parent folders created): ONNX
    with a dynamic batch axis (``onnx``) and a torch.export program (``program``). Returns the paths."""
    writers = ((onnx, lambda tmp: to_onnx(model, input_shape, tmp, dynamic_batch=True)),
               (program, lambda tmp: to_program(model, input_shape, tmp)))
    written = []
    for path, write in writers:
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            written.append(atomic_write(path, write))
    return written


def pick_trial(trials: List[Trial], objectives: List[Dict[str, str]], index: Optional[int],
               pareto: Optional[int]) -> Trial:
    """Trial ``index`` of the run, or the ``pareto``-th (1-based) row of its pareto.csv (``objectives``)."""
    from .pareto import pareto_front
    from .registry import shown

    done = [t for t in trials if t.state is TrialState.COMPLETE]
    if pareto is not None:
        front = pareto_front([(t.arch, t.metrics) for t in done], objectives)
        if not 1 <= pareto <= len(front):
            raise SlotnasError(f"export --pareto: the run's front has {len(front)} point(s); allowed: 1..{len(front)}")
        metrics = front[pareto - 1][1]
        return next(t for t in done if t.metrics is metrics)
    found = [t for t in trials if t.index == index]
    if not found:
        raise SlotnasError(f"export --trial: no trial {shown(index)} in this run; allowed: "
                           f"{', '.join(str(t.index) for t in done[:20])}{' ...' if len(done) > 20 else ''}")
    if found[0].state is not TrialState.COMPLETE:
        raise SlotnasError(f"export --trial: trial {index} is {found[0].state.value}; only COMPLETE trials export")
    return found[0]


def export_trial(run_dir: str, index: Optional[int] = None, pareto: Optional[int] = None,
                 epochs: Optional[int] = None, folder: Optional[str] = None) -> Exported:
    """Rebuild a trial's architecture (default: the best), retrain it from scratch (``epochs``, default the
    run's retraining epochs; 0 keeps the fresh, untrained weights) and write ``folder`` (default
    ``export/trial-N/``): arch.yaml, model.pt (state dict), model.onnx (any batch size) and model.pt2
    (torch.export program; torch alone runs it)."""
    from .config import read_yaml, validate
    from .pareto import run_objectives
    from .runner import build, build_optimizer
    from .runtime.evaluate import retrain_fixed
    from .store import TrialStore

    if not os.path.isfile(os.path.join(run_dir, "config.yaml")):
        raise SlotnasError(f"export: {run_dir!r} is not a run folder (no config.yaml)")
    cfg = validate(read_yaml(os.path.join(run_dir, "config.yaml")))
    store = TrialStore(run_dir)
    try:
        trials = store.trials("epoch") or store.trials("search")
    finally:
        store.close()
    parts = build(cfg)
    optimizer = build_optimizer(cfg, parts.space)  # whose objective pareto.csv ranks, as in the run
    if index is None and pareto is None:
        trial = optimizer.best(trials)  # the run's winner, as its optimizer ranks
        if trial is None:
            raise SlotnasError(f"export: {run_dir!r} has no successful trial")
    else:
        trial = pick_trial(trials, run_objectives(cfg, optimizer.objective, optimizer.mode), index, pareto)
    apply_arch(parts.model, parts.space, trial.arch)
    fixed = fix(parts.model)
    retrain = cfg["run"]["retrain_epochs"]
    epochs = (parts.trainer.epochs if retrain is None else retrain) if epochs is None else epochs
    final = None
    if epochs > 0:
        final = retrain_fixed(fixed, parts.data, parts.trainer, parts.metrics, epochs, cfg["run"]["seed"], trial.index)
        weights = f"retrained from scratch for {epochs} epoch(s) (trials do not keep their weights)"
    else:
        weights = "untrained: fresh initialization (give --epochs to train it)"
    fixed.eval()
    folder = folder or os.path.join(run_dir, "export", f"trial-{trial.index}")
    shape = parts.data.input_shape
    files = write_export_folder(folder, fixed, shape, {
        "arch": dict(trial.arch), "trial": trial.index, "weights": weights,
        "metrics": {k: v for k, v in trial.metrics.items() if not isinstance(v, (dict, list))},
        "final_metrics": final, "space": parts.space.to_dict(), "input_shape": list(shape),
        "num_classes": parts.data.num_classes, **genotype_entry(parts.model)})
    return Exported(trial, weights, final, folder, files, fixed, list(shape))


def write_export_folder(folder: str, model: nn.Module, input_shape: Sequence[int], info: Dict[str, Any]) -> List[str]:
    """An export folder: ``info`` as arch.yaml, model.pt (state dict), model.onnx and model.pt2; the paths."""
    os.makedirs(folder, exist_ok=True)
    return [write_yaml(os.path.join(folder, "arch.yaml"), info), save_torch(os.path.join(folder, "model.pt"),
                                                                            model.state_dict()),
            *save_portable(model, input_shape, os.path.join(folder, "model.onnx"), os.path.join(folder, "model.pt2"))]
