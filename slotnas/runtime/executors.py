"""Executors run trials: in this process, in this process plus local worker processes, or on Ray."""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
from typing import Any, Dict, List, Optional, Tuple

from ..errors import SlotnasError
from ..schedulers import StopRule
from ..trials import Trial
from .worker import TrialWorker, init_process_worker, run_in_process


class Executor:
    """Runs up to ``slots`` trials at once; ``wait`` returns at least one finished trial."""

    slots = 1

    def submit(self, trial: Trial, rule: Optional[StopRule] = None) -> None:
        """Start evaluating ``trial`` (under a stopping ``rule``, if given)."""
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
        self.queue: List[Tuple[Trial, Optional[StopRule]]] = []

    def submit(self, trial: Trial, rule: Optional[StopRule] = None) -> None:
        self.queue.append((trial, rule))

    def wait(self) -> List[Trial]:
        return [self.worker.run(*self.queue.pop(0))]


class LocalExecutor(Executor):
    """``executor: local`` with N workers: this process (its model, in a thread) plus N-1 spawned processes.

    The main process starts evaluating at once while the others import torch and build their own
    space from the config (a few seconds), so those seconds are not lost. Each worker has ``threads``
    torch threads.
    """

    def __init__(self, cfg: Dict[str, Any], workers: int, threads: int, local: TrialWorker,
                 shared_state: Optional[Dict[str, Any]]) -> None:
        ctx = multiprocessing.get_context("spawn")  # fork after torch's thread pools start is unsafe
        ids = ctx.Queue()
        for i in range(1, workers):
            ids.put(i)
        self.slots, self.local = workers, local
        self.local_busy = False
        self.pool = cf.ProcessPoolExecutor(workers - 1, mp_context=ctx, initializer=init_process_worker,
                                           initargs=(cfg, shared_state, threads, ids, os.getpid(), local.run_dir))
        self.futures: Dict[cf.Future, Trial] = {}

    def submit(self, trial: Trial, rule: Optional[StopRule] = None) -> None:
        if not self.local_busy:
            self.local_busy = True
            future: cf.Future = cf.Future()
            threading.Thread(target=_run_into, args=(self.local, trial, rule, future), daemon=True,
                             name=f"slotnas-trial-{trial.index}").start()
            future.add_done_callback(self._local_done)
        else:
            future = self.pool.submit(run_in_process, trial, rule)
        self.futures[future] = trial

    def _local_done(self, _: cf.Future) -> None:
        self.local_busy = False

    def wait(self) -> List[Trial]:
        done, _ = cf.wait(list(self.futures), return_when=cf.FIRST_COMPLETED)
        out = []
        for future in sorted(done, key=lambda f: self.futures[f].index):
            trial = self.futures.pop(future)
            try:
                out.append(future.result())
            except cf.process.BrokenProcessPool:
                raise SlotnasError(f"a worker process died while starting or evaluating trial {trial.index} "
                                   "(killed, out of memory, or it failed to start: see its output above); "
                                   "resume the run to evaluate it again") from None
        return out

    def close(self) -> None:
        processes = list(getattr(self.pool, "_processes", {}).values())  # no public terminate before 3.14
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)


def _run_into(worker: TrialWorker, trial: Trial, rule: Optional[StopRule], future: cf.Future) -> None:
    """Evaluate in a daemon thread (Ctrl-C never waits for it) and settle ``future``."""
    try:
        future.set_result(worker.run(trial, rule))
    except BaseException as exc:  # handed to the loop, which raises it in the main thread
        future.set_exception(exc)


def make_executor(run_cfg: Dict[str, Any], cfg: Dict[str, Any], workers: int, threads: int, local: TrialWorker,
                  shared_state: Optional[Dict[str, Any]]) -> Executor:
    """The executor ``run.executor`` names, with ``workers`` slots (one slot runs in this process)."""
    if run_cfg["executor"] == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(cfg, workers, threads, shared_state, run_cfg["ray_address"], run_cfg["resources"],
                           local.run_dir)
    if workers == 1:
        return InlineExecutor(local)
    return LocalExecutor(cfg, workers, threads, local, shared_state)


__all__ = ["Executor", "InlineExecutor", "LocalExecutor", "make_executor"]
