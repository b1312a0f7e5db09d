"""search(): config -> run folder, trial store, optimizer, executor, callbacks -> SearchResult."""
from __future__ import annotations

import copy
import multiprocessing
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from ..callbacks import (AlphasPlot, Callback, CallbackList, FailureGuard, LiveReport, ParetoReport, ProgressBar,
                         RunLog, WinnerExport, load_callback)
from ..errors import SlotnasError
from ..estim.base import Estimator
from ..files import lock_run_dir, make_run_dir, remove_stale_temps, save_torch, write_yaml
from ..preflight import preflight
from ..runner import build, build_optimizer
from ..store import TrialStore
from ..trials import Arch, Trial
from .context import Run, SearchResult
from .evaluate import CHECKPOINTS
from .executors import make_executor
from .loop import Propose, drive, replay
from .resume import check_resumable, stored_config
from .rungs import Rungs, build_scheduler
from .worker import TrialWorker

SHARED_STATE = "shared_state.pt"  # what workers need from the estimator's prepare (e.g. SPOS supernet weights)
CHECKPOINT = "supernet.ckpt"  # a one-shot run's state after its last finished epoch


def available_cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_workers(run_cfg: Dict[str, Any], estimator: Estimator, remaining: int) -> Tuple[int, int]:
    """(workers, torch threads per worker) for ``run.workers`` / ``run.threads`` (``auto`` resolved).

    auto: one worker per core with one thread each for estimators that train many small networks,
    else one worker with every core. Never more workers than trials left to run.
    """
    cores = available_cores()
    workers = run_cfg["workers"]
    if workers == "auto":  # the same for Ray: this machine's cores (set run.workers for a bigger cluster)
        workers = cores if estimator.parallel else 1
    workers = max(1, min(workers, remaining)) if not estimator.default_only else 1
    threads = run_cfg["threads"] or max(1, cores // workers)
    return workers, threads


def search(config: Union[None, str, os.PathLike, Mapping[str, Any]] = None, callbacks: Sequence[Callback] = (),
           overrides: Sequence[str] = ()) -> SearchResult:
    """Run a search from a YAML path, a config dict or None (the embedded default); ``callbacks`` run
    after the built-in ones. Returns the trials and the winner."""
    from ..config import load_config, validate
    from ..overrides import apply_overrides

    if config is None or isinstance(config, (str, os.PathLike)):
        cfg = load_config(None if config is None else os.fspath(config), overrides)
    else:
        cfg = validate(apply_overrides(copy.deepcopy(dict(config)), overrides))
    return run_search(cfg, callbacks)


def resume(run_dir: str, callbacks: Sequence[Callback] = (), overrides: Sequence[str] = ()) -> SearchResult:
    """Continue the run in ``run_dir`` from its own config.yaml (``overrides`` may change runtime keys only)."""
    from ..config import validate
    from ..overrides import apply_overrides

    raw = apply_overrides(stored_config(run_dir), overrides)
    raw["run"]["resume"] = run_dir
    return run_search(validate(raw), callbacks)


def run_search(cfg: Dict[str, Any], callbacks: Sequence[Callback] = ()) -> SearchResult:
    """Run the search a validated config describes; trials land in the run folder as they finish."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SlotnasError("slotnas.search() ran while a worker process was starting: the script that calls it "
                           "needs an if __name__ == '__main__': guard (or set run.workers: 1)")
    run_cfg = cfg["run"]
    resumed = run_cfg["resume"] is not None
    if resumed:
        check_resumable(stored_config(run_cfg["resume"]), cfg)
    user = [load_callback(c) for c in run_cfg["callbacks"]] + list(callbacks)
    parts = build(cfg)
    if not resumed:
        preflight(parts.model, parts.data, parts.metrics, cfg["metrics"])  # default architecture, candidates, metrics
    optimizer = build_optimizer(cfg, parts.space)
    scheduler = build_scheduler(cfg["scheduler"], parts.estimator.max_fidelity) if "scheduler" in cfg else None
    run_dir = run_cfg["resume"] if resumed else make_run_dir(run_cfg["out"])
    lock = lock_run_dir(run_dir)  # before touching anything: a second process on this folder stops here
    try:
        return _search_in(cfg, run_dir, parts, optimizer, scheduler, user)
    finally:
        if lock is not None:
            lock.close()


def _search_in(cfg: Dict[str, Any], run_dir: str, parts: Any, optimizer: Any, scheduler: Any,
               user: List[Callback]) -> SearchResult:
    """The search in a locked run folder."""
    run_cfg = cfg["run"]
    resumed = run_cfg["resume"] is not None
    if resumed:
        remove_stale_temps(run_dir)
    write_yaml(os.path.join(run_dir, "config.yaml"), {**cfg, "run": {**run_cfg, "resume": None}})
    run = Run(cfg, run_dir, TrialStore(run_dir), optimizer, parts.estimator, parts.model, parts.space, parts.data,
              budget=run_cfg["budget"], resumed=resumed, scheduler=scheduler)
    builtin: List[Callback] = [ProgressBar()] if run_cfg["progress"] else []
    builtin += [ParetoReport(), AlphasPlot(), WinnerExport(), RunLog(echo_trials=not run_cfg["progress"]),
                FailureGuard(run_cfg["max_consecutive_failures"])]
    builtin += [LiveReport()] if run_cfg["report"] else []  # last: the page shows the winner's files too
    if run_cfg["tensorboard"]:
        from ..callbacks.trackers import TensorBoardLogger

        builtin.append(TensorBoardLogger(run_cfg["tensorboard"]))
    if run_cfg["mlflow"] is not None:
        from ..callbacks.trackers import MLflowLogger

        builtin.append(MLflowLogger(**run_cfg["mlflow"]))
    hooks = CallbackList(builtin + user)  # RunLog after WinnerExport: summary.txt has the retrained metrics
    try:
        if optimizer.kind == "gradient":
            _one_shot(run, hooks)
        else:
            _discrete(run, hooks)
        trials = run.trials()
        result = SearchResult(run_dir, trials, optimizer.best(trials), optimizer.rank(trials), optimizer.objective,
                              optimizer.mode)
        hooks.on_search_end(run, result)
    finally:
        run.store.close()
    return result


def _discrete(run: Run, hooks: Callback) -> None:
    propose = _proposer(run)
    rungs = None
    if run.scheduler is not None:
        objectives = run.config.get("objectives") or [{"metric": run.optimizer.objective, "mode": run.optimizer.mode}]
        rungs = Rungs(run, run.scheduler, objectives, propose)
    requeue = rungs.replay() if rungs is not None else replay(run, propose)
    remaining = run.budget if rungs is not None else len(requeue) + max(0, run.budget - run.store.started())
    workers, threads = plan_workers(run.config["run"], run.estimator, remaining)
    run.workers, run.threads = workers, threads
    hooks.on_search_start(run)
    shared = _prepare(run)  # with every core: e.g. SPOS supernet training
    with _threads(threads):  # this process is worker 0 (locally) while the search runs
        checkpoints = _checkpoints(run)
        local = TrialWorker(run.config, None, 0, 0, "main", estimator=run.estimator, run_dir=run.run_dir)
        executor = make_executor(run.config["run"], run.config, workers, threads, local, shared)
        try:
            if rungs is not None:
                rungs.drive(executor, hooks, checkpoints, run.config["run"]["keep_checkpoints"],  # type: ignore[arg-type]
                            requeue)
            else:
                drive(run, executor, propose, hooks, requeue)
        finally:
            executor.close()


@contextmanager
def _threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads and the BLAS / OpenMP pools (a GP refit, xgboost) limited to ``threads``,
    so proposals stay cheap under load; restored afterwards."""
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def _checkpoints(run: Run) -> Optional[str]:
    """The folder of the trials' training states between rungs (multi-fidelity runs only)."""
    if run.scheduler is None:
        return None
    folder = run.path(CHECKPOINTS)
    os.makedirs(folder, exist_ok=True)
    return folder


def _prepare(run: Run) -> Optional[Dict[str, Any]]:
    """The estimator's one-time work (kept in the run folder, so a resumed run loads it instead)."""
    path = run.path(SHARED_STATE)
    if run.resumed and os.path.isfile(path):
        shared = torch.load(path, map_location="cpu", weights_only=True)
        run.estimator.load_shared_state(shared)
        return shared
    run.estimator.prepare()
    shared = run.estimator.shared_state()
    if shared is not None:
        save_torch(path, shared)
    return shared


def _proposer(run: Run) -> Propose:
    """Where new architectures come from: the optimizer, or the space's defaults once (DefaultEstim)."""
    optimizer: Any = run.optimizer
    if not run.estimator.default_only:
        return optimizer.ask
    default = {p.name: p.value for p in optimizer.params}
    pending = [default]

    def propose() -> Optional[Arch]:
        if not pending:
            return None
        arch = pending.pop()
        optimizer.claim(arch)
        return dict(arch)

    return propose


def _one_shot(run: Run, hooks: Callback) -> None:
    """Supernet training; after each epoch its checkpoint (atomic), then its trial. A resumed run
    continues after the checkpoint's epoch."""
    path = run.path(CHECKPOINT)

    def record(epoch: int, arch: Arch, metrics: Dict[str, Any]) -> Trial:
        trial = run.store.add(arch, metrics, kind="epoch", fidelity=epoch + 1)
        run.optimizer.tell(trial)
        return trial

    checkpoint = _one_shot_checkpoint(run, path)
    if checkpoint is not None and checkpoint["epoch"] == len(run.trials()):  # killed between the two writes
        record(checkpoint["epoch"], checkpoint["report"]["arch"], checkpoint["report"]["metrics"])
    run.threads = run.config["run"]["threads"] or torch.get_num_threads()

    def report(epoch: int, arch: Arch, metrics: Dict[str, Any], state: Dict[str, Any]) -> None:
        save_torch(path, state)
        hooks.on_epoch_end(run, record(epoch, arch, metrics))

    with _threads(run.threads):
        hooks.on_search_start(run)
        run.estimator.search(run.optimizer, report, checkpoint)  # type: ignore[attr-defined]


def _one_shot_checkpoint(run: Run, path: str) -> Optional[Dict[str, Any]]:
    """The checkpoint a resumed one-shot run continues from (None: start at epoch 0)."""
    stored = run.trials()
    if not os.path.isfile(path):
        if stored:
            raise SlotnasError(f"run.resume: {run.run_dir} holds {len(stored)} one-shot epoch(s) but no {CHECKPOINT}; "
                               "start a new run")
        return None
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if checkpoint["epoch"] not in (len(stored) - 1, len(stored)):
        raise SlotnasError(f"run.resume: {path} is from epoch {checkpoint['epoch']} but the journal holds "
                           f"{len(stored)} epoch(s); start a new run")
    return checkpoint
