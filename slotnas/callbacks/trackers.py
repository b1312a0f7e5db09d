"""Logging to the experiment trackers users already run, as optional callbacks (imported only when used)."""
from __future__ import annotations

import math
import os
import time
from typing import TYPE_CHECKING, Any, Dict, Optional

from ..errors import SlotnasError
from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult
    from ..trials import Trial


def _scalars(metrics: Dict[str, Any]) -> Dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


class BestSoFar:
    """The best objective over the trials seen so far, in the objective's own units."""

    def __init__(self) -> None:
        self.score: Optional[float] = None  # the optimizer's score: larger is better

    def update(self, run: "Run", trial: "Trial") -> Optional[float]:
        """Take the trial in; the best value so far, or None when the trial has no objective value."""
        score = run.optimizer.trial_score(trial)
        if score == -math.inf:
            return None
        self.score = score if self.score is None else max(self.score, score)
        return self.score if run.optimizer.mode == "max" else -self.score


class TensorBoardLogger(Callback):
    """``run.tensorboard: DIR``: one TensorBoard run per search in ``DIR/<run folder name>``: every trial's
    metrics (step = trial index) and the best objective so far; per one-shot epoch its metrics and each
    slot's softmaxed alphas as a histogram; at the end the hyperparameters with the winner's metrics."""

    def __init__(self, folder: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise SlotnasError("run.tensorboard: needs the tensorboard package; pip install 'slotnas[tensorboard]'") \
                from None
        self._writer_cls, self.folder = SummaryWriter, folder
        self.writer: Any = None
        self.best = BestSoFar()

    def on_search_start(self, run: "Run") -> None:
        self.writer = self._writer_cls(os.path.join(self.folder, os.path.basename(os.path.normpath(run.run_dir))))

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        for name, value in _scalars(trial.metrics).items():
            self.writer.add_scalar(f"trial/{name}", value, trial.index)
        best = self.best.update(run, trial)
        if best is not None:
            self.writer.add_scalar(f"search/best_{run.optimizer.objective}", best, trial.index)
        self.writer.flush()

    def on_epoch_end(self, run: "Run", trial: "Trial") -> None:
        import torch

        for name, value in _scalars(trial.metrics).items():
            self.writer.add_scalar(f"epoch/{name}", value, trial.index)
        for param, probs in (trial.metrics.get("alphas") or {}).items():
            self.writer.add_histogram(f"alphas/{param}", torch.tensor(probs), trial.index)
        self.writer.flush()

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        hparams = {n: v for n, v in (result.best_arch or {}).items()
                   if n in run.config.get("hparams", {}) and isinstance(v, (int, float, str, bool))}
        if hparams and result.best is not None:
            self.writer.add_hparams(hparams, {f"hparam/{k}": v for k, v in _scalars(result.best.metrics).items()},
                                    run_name=".")
        self.writer.close()


def _mlflow_error(exc: Exception) -> Exception:
    """An unreachable server or a refused store as one line before any trial; other errors unchanged."""
    if type(exc).__name__ != "MlflowException" and not isinstance(exc, OSError):
        return exc
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SlotnasError(f"run.mlflow: {first[:300]}")


class MLflowLogger(Callback):
    """``run.mlflow: {tracking_uri, experiment, nested}``: one MLflow run per search (its config as params, each
    trial's metrics as steps, the best so far, best_arch.yaml as an artifact) and, with ``nested``, one child run
    per trial holding its architecture and metrics, ended with the trial's state. A resumed search continues
    its MLflow run (found by the run folder's tag). Uses the MlflowClient, not mlflow's global active run."""

    STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAILED": "FAILED"}

    def __init__(self, tracking_uri: Optional[str] = None, experiment: str = "slotnas", nested: bool = True) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise SlotnasError("run.mlflow: needs the mlflow package; pip install 'slotnas[mlflow]'") from None
        try:
            self.client = MlflowClient(tracking_uri=tracking_uri)
        except Exception as exc:
            raise _mlflow_error(exc) from None
        self.experiment, self.nested = experiment, nested
        self.run_id: Optional[str] = None
        self.experiment_id: Optional[str] = None
        self.best = BestSoFar()

    def on_search_start(self, run: "Run") -> None:
        try:
            self._start(run)
        except Exception as exc:
            raise _mlflow_error(exc) from None

    def _start(self, run: "Run") -> None:
        found = self.client.get_experiment_by_name(self.experiment)
        exp_id = found.experiment_id if found is not None else self.client.create_experiment(self.experiment)
        self.experiment_id = exp_id
        folder = os.path.abspath(run.run_dir)
        earlier = self.client.search_runs([exp_id], filter_string=f"tags.`slotnas.run_dir` = '{folder}'", max_results=1)
        if earlier:
            self.run_id = earlier[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
            return
        self.run_id = self.client.create_run(exp_id, run_name=os.path.basename(folder),
                                             tags={"slotnas.run_dir": folder}).info.run_id
        cfg = run.config
        params = {"optim": cfg["optim"]["type"], "estim": cfg["estim"]["type"], "budget": run.budget,
                  "seed": cfg["run"]["seed"], "objective": f"{run.optimizer.objective} ({run.optimizer.mode})",
                  "space_params": len(run.space)}
        for section in ("optim", "estim", "trainer"):
            params.update({f"{section}.{k}": v for k, v in cfg.get(section, {}).items() if k != "type"})
        self._params(self.run_id, params)

    def _params(self, run_id: str, params: Dict[str, Any]) -> None:
        """As text (MLflow keeps 500 characters per value), in requests of at most 100 (MLflow's batch limit)."""
        from mlflow.entities import Param

        items = [Param(k, str(v)[:500]) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start:start + 100])

    def _log(self, run_id: str, metrics: Dict[str, float], step: int, prefix: str = "") -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(prefix + k, v, now, step) for k, v in metrics.items()])

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        metrics = _scalars(trial.metrics)
        best = self.best.update(run, trial)
        if best is not None:
            metrics[f"best_{run.optimizer.objective}"] = best
        self._log(self.run_id, metrics, trial.index)
        if self.nested:
            child = self.client.create_run(
                self.experiment_id, run_name=f"trial-{trial.index}",
                tags={"mlflow.parentRunId": self.run_id, "slotnas.trial": str(trial.index),
                      "slotnas.state": trial.state.name}).info.run_id
            self._params(child, trial.arch or {})
            self._log(child, _scalars(trial.metrics), 0)
            self.client.set_terminated(child, status=self.STATUS.get(trial.state.name, "FINISHED"))

    def on_epoch_end(self, run: "Run", trial: "Trial") -> None:
        self._log(self.run_id, _scalars(trial.metrics), trial.index, prefix="epoch/")

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        if result.best is not None:
            self._log(self.run_id, _scalars(result.best.metrics), result.best.index, prefix="winner/")
        if result.final_metrics:
            self._log(self.run_id, _scalars(result.final_metrics), 0, prefix="retrained/")
        best_file = run.path("best_arch.yaml")
        if os.path.isfile(best_file):
            self.client.log_artifact(self.run_id, best_file)
        self.client.set_terminated(self.run_id, status="FINISHED")
