"""Executors run trials: in this process, in local worker processes, or on Ray (ray_executor.py)."""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from typing import Any, Dict, List, Optional

from ..errors import SlotnasError
from ..trials import Trial
from .worker import TrialWorker, init_process_worker, run_in_process


class Executor:
    """Runs up to ``slots`` trials at once; ``wait`` returns at least one finished trial."""

    slots = 1

    def submit(self, trial: Trial) -> None:
        """Start evaluating ``trial``."""
        raise NotImplementedError

    def wait(self) -> List[Trial]:
        """Block until one or more submitted trials finish; return them (a worker's error is raised)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop every worker (trials still running are abandoned; they stay RUNNING in the store)."""


class InlineExecutor(Executor):
    """``workers: 1``: evaluates in the main process with the main model (as the loop always did)."""

    def __init__(self, worker: TrialWorker) -> None:
        self.worker = worker
        self.queue: List[Trial] = []

    def submit(self, trial: Trial) -> None:
        self.queue.append(trial)

    def wait(self) -> List[Trial]:
        return [self.worker.run(self.queue.pop(0))]


class ProcessExecutor(Executor):
    """``executor: local``: N spawned worker processes, each building the space once from the config."""

    def __init__(self, cfg: Dict[str, Any], workers: int, threads: int,
                 shared_state: Optional[Dict[str, Any]]) -> None:
        ctx = multiprocessing.get_context("spawn")  # fork after torch's thread pools start is unsafe
        ids = ctx.Queue()
        for i in range(workers):
            ids.put(i)
        self.slots = workers
        self.pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_process_worker,
                                           initargs=(cfg, shared_state, threads, ids, os.getpid()))
        self.futures: Dict[cf.Future, Trial] = {}

    def submit(self, trial: Trial) -> None:
        self.futures[self.pool.submit(run_in_process, trial)] = trial

    def wait(self) -> List[Trial]:
        done, _ = cf.wait(list(self.futures), return_when=cf.FIRST_COMPLETED)
        out = []
        for future in sorted(done, key=lambda f: self.futures[f].index):
            trial = self.futures.pop(future)
            try:
                out.append(future.result())
            except cf.process.BrokenProcessPool:
                raise SlotnasError(f"a worker process died while evaluating trial {trial.index} "
                                   f"(killed, or out of memory); resume the run to evaluate it again") from None
        return out

    def close(self) -> None:
        processes = list(getattr(self.pool, "_processes", {}).values())  # no public terminate before 3.14
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)


def make_executor(run_cfg: Dict[str, Any], cfg: Dict[str, Any], workers: int, threads: int, local: TrialWorker,
                  shared_state: Optional[Dict[str, Any]]) -> Executor:
    """The executor ``run.executor`` names, with ``workers`` slots (one slot runs in this process)."""
    if run_cfg["executor"] == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(cfg, workers, threads, shared_state, run_cfg["ray_address"], run_cfg["resources"])
    if workers == 1:
        return InlineExecutor(local)
    return ProcessExecutor(cfg, workers, threads, shared_state)


__all__ = ["Executor", "InlineExecutor", "ProcessExecutor", "make_executor"]
