"""WinnerExport: fix the winner, retrain it, write best_arch.yaml / best_model.pt / best_model.onnx."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional

import torch
from torch import nn

from ..arch_space.export import fix
from ..arch_space.templates.cell import genotype_entry
from ..errors import SlotnasError
from ..exporting import save_portable
from ..files import save_torch, write_yaml
from ..store import JOURNAL
from ..trials import Trial, TrialState, arch_key
from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult


class WinnerExport(Callback):
    """The winner as a plain network: retrained from scratch (``run.retrain_epochs``), every file atomic.

    A resumed run whose winner was already retrained loads best_model.pt instead of training again.
    """

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        best = result.best
        if best is None:
            raise SlotnasError(f"no architecture was evaluated successfully; the errors are in {run.path(JOURNAL)}")
        if run.optimizer.kind != "gradient":  # a one-shot run's space already holds the final alphas
            run.space.update(best.arch)
        fixed = fix(run.model)
        final = self._retrain(run, best, fixed)
        fixed.eval()
        write_yaml(run.path("best_arch.yaml"), {
            "arch": best.arch, "trial": best.index, "metrics": _scalars(best.metrics), "final_metrics": final,
            "space": run.space.to_dict(), "input_shape": list(run.data.input_shape),
            "num_classes": run.data.num_classes, **genotype_entry(run.model),
        })
        save_portable(fixed, run.data.input_shape, run.path("best_model.onnx") if run.config["run"]["export_onnx"] else None,
                      run.path("best_model.pt2") if run.config["run"]["export_program"] else None)
        result.final_metrics, result.model = final, fixed

    def _retrain(self, run: "Run", best: Trial, fixed: nn.Module) -> Optional[Dict[str, Any]]:
        from ..runtime.evaluate import retrain_fixed

        trainer = run.estimator.trainer
        epochs = run.config["run"]["retrain_epochs"]
        epochs = trainer.epochs if epochs is None else epochs
        weights = run.path("best_model.pt")
        if epochs <= 0:  # keep the search weights, with BatchNorm statistics of this architecture
            trainer.recalibrate_bn(fixed, run.data.train, n_batches=20)
            save_torch(weights, fixed.state_dict())
            return None
        done = [t for t in run.store.trials("retrain", states=(TrialState.COMPLETE,))
                if arch_key(t.arch) == arch_key(best.arch)]
        if done and os.path.isfile(weights):
            fixed.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            return dict(done[-1].metrics)
        final = retrain_fixed(fixed, run.data, trainer, run.estimator.metrics, epochs, run.config["run"]["seed"],
                              run.store.next_index)
        save_torch(weights, fixed.state_dict())
        run.store.add(best.arch, final, kind="retrain")
        return final


def _scalars(metrics: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}
