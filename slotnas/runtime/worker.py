"""TrialWorker: builds the space once from the config, then evaluates the trials it is sent."""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Dict, Optional

import torch

from ..schedulers import StopRule
from ..trials import Trial
from .evaluate import evaluate_trial, resolve_catch


def worker_device(cfg: Dict[str, Any], worker_id: int) -> Optional[str]:
    """With several visible GPUs and ``trainer.device: auto``, worker i takes GPU i mod count."""
    if cfg["trainer"].get("device", "auto") == "auto" and torch.cuda.device_count() > 1:
        return f"cuda:{worker_id % torch.cuda.device_count()}"
    return None


class TrialWorker:
    """One worker: its own model, space and estimator, ``threads`` torch threads, maybe its own GPU."""

    def __init__(self, cfg: Dict[str, Any], shared_state: Optional[Dict[str, Any]], threads: int,
                 worker_id: int, prefix: str = "local", estimator: Any = None,
                 run_dir: Optional[str] = None) -> None:
        self.name, self.run_dir = f"{prefix}-{worker_id}", run_dir  # trials keep their files there
        self.seed = cfg["run"]["seed"]
        self.catch = resolve_catch(cfg["run"]["catch"])
        if threads:
            torch.set_num_threads(threads)
        if estimator is None:  # a separate process: build everything from the config
            from ..runner import build

            device = worker_device(cfg, worker_id)
            if device is not None:
                cfg = {**cfg, "trainer": {**cfg["trainer"], "device": device}}
            estimator = build(cfg).estimator
            if shared_state is not None:
                estimator.load_shared_state(shared_state)
        self.estimator = estimator

    def run(self, trial: Trial, rule: Optional[StopRule] = None) -> Trial:
        """Evaluate one trial (see :func:`evaluate_trial` for what fails it and what stops the run)."""
        return evaluate_trial(self.estimator, trial, self.seed, self.catch, self.name, self.run_dir, rule)


_WORKER: Optional[TrialWorker] = None


def init_process_worker(cfg: Dict[str, Any], shared_state: Optional[Dict[str, Any]], threads: int,
                        ids: Any, parent: int, run_dir: Optional[str] = None) -> None:
    """Initializer of a local worker process (spawned): exits when the main process is gone."""
    global _WORKER
    _watch_parent(parent)
    _WORKER = TrialWorker(cfg, shared_state, threads, ids.get(), run_dir=run_dir)


def run_in_process(trial: Trial, rule: Optional[StopRule] = None) -> Trial:
    """The task a local worker process runs."""
    assert _WORKER is not None, "worker process not initialized"
    return _WORKER.run(trial, rule)


def _watch_parent(parent: int) -> None:
    """A worker whose main process died (e.g. SIGKILL) exits instead of waiting forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="slotnas-parent-watch").start()
