"""The multi-fidelity loop: a scheduler picks jobs (new architecture or promotion), workers train up to rungs."""
from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from ..pareto import costs
from ..schedulers import Scheduler
from ..trials import Trial, TrialState
from .evaluate import checkpoint_path
from .executors import Executor
from .loop import Propose

if TYPE_CHECKING:
    from ..callbacks import Callback
    from ..store import TrialStore
    from .context import Run


def drive_rungs(run: "Run", executor: Executor, propose: Propose, callbacks: "Callback", scheduler: Scheduler,
                objectives: Sequence[Dict[str, str]], checkpoints: str, keep_checkpoints: bool = False) -> None:
    """Run the scheduler's jobs on every free worker until it is done; then prune the paused trials.

    A job's result goes to the scheduler (as a cost vector over ``objectives``); a trial that reached
    the maximum fidelity (or failed) is final, others stay paused at their rung (a RUNNING line with
    the rung's metrics). Estimators without a resumable fidelity run in stopping mode: each trial runs
    towards the maximum fidelity with the scheduler's stop rule and reports per step. The optimizer is told each trial once, at its first rung, where every trial
    has a result; under BOHB a model-based optimizer is refitted after every result on the results of
    the scheduler's model rung. ``run.budget`` counts architectures, ``scheduler.fidelity_budget`` epochs.
    """
    store, optimizer = run.store, run.optimizer
    scheduler.new_allowed = run.budget - store.started()
    scheduler.stopping = stopping = not run.estimator.resumable()
    scheduler.continues = run.estimator.fidelity_continues
    told: set = set()
    in_flight = 0
    while True:
        while in_flight < executor.slots:
            job = scheduler.next_job()
            if job is None:
                break
            if job.index is None:
                arch = propose()
                if arch is None:  # the space is exhausted
                    scheduler.new_allowed = 0
                    continue
                trial = store.start(arch, fidelity=job.fidelity)
            else:
                trial = store.restart(job.index, job.fidelity)
            executor.submit(trial, scheduler.stop_rule(objectives) if stopping else None)
            in_flight += 1
        if not in_flight:
            break
        for trial in executor.wait():
            in_flight -= 1
            failed = trial.state is TrialState.FAILED
            if stopping:
                _account_stopped(scheduler, trial, objectives)
            else:
                scheduler.on_result(trial.index, int(trial.fidelity),
                                    None if failed else costs(trial.metrics, objectives))
            final = failed or stopping or trial.fidelity >= scheduler.max_fidelity
            recorded = store.finish(trial) if final else store.report(trial)
            if trial.index not in told:
                told.add(trial.index)
                optimizer.tell(trial)
            if getattr(scheduler, "model_based", False):  # BOHB: the model sees only its rung's results
                rung = scheduler.model_rung(len(optimizer.params) + 1)  # type: ignore[attr-defined]
                optimizer.refit(rung_trials(store, rung) if rung is not None else [])
            if final:
                _drop(checkpoints, trial.index, keep_checkpoints)
                callbacks.on_trial_complete(run, recorded)
    for trial in paused(store.trials()):
        pruned = store.finish(replace(trial, state=TrialState.PRUNED))
        _drop(checkpoints, trial.index, keep_checkpoints)
        callbacks.on_trial_complete(run, pruned)


def paused(trials: List[Trial]) -> List[Trial]:
    """Trials that stopped at a rung (RUNNING with that rung's metrics)."""
    return [t for t in trials if t.state is TrialState.RUNNING and t.metrics]


def _account_stopped(scheduler: Scheduler, trial: Trial, objectives: Sequence[Dict[str, str]]) -> None:
    """Stopping mode: the rung results a trial reported go to the scheduler (for later trials' stop
    rules), its final result to the last rung if it got there; epochs it did not train are handed back."""
    for step, metrics in sorted(trial.intermediate.items()):
        if step in scheduler.results and step < scheduler.max_fidelity:
            scheduler.on_result(trial.index, step, costs(metrics, objectives))
    if trial.state is TrialState.COMPLETE and trial.fidelity == scheduler.max_fidelity:
        scheduler.on_result(trial.index, scheduler.max_fidelity, costs(trial.metrics, objectives))
    elif trial.state is TrialState.PRUNED:
        scheduler.spent -= scheduler.max_fidelity - int(trial.fidelity)  # type: ignore[arg-type]


def rung_trials(store: "TrialStore", rung: int) -> List[Trial]:
    """Each trial's successful result at ``rung`` as a COMPLETE trial (paused ones too), by index."""
    latest = {t.index: replace(t, state=TrialState.COMPLETE) for t in store.events()
              if t.kind == "search" and t.fidelity == rung and t.metrics and t.state is not TrialState.FAILED}
    return [latest[i] for i in sorted(latest)]


def _drop(folder: str, index: int, keep: bool) -> None:
    path = checkpoint_path(folder, index)
    if not keep and os.path.isfile(path):
        os.remove(path)


def build_scheduler(spec: Dict, max_fidelity: Optional[int]) -> Scheduler:
    """The scheduler a validated ``scheduler:`` section names; max_fidelity defaults to the estimator's."""
    from ..registry import component_options
    from ..schedulers import SCHEDULERS

    options = component_options(spec)
    options["max_fidelity"] = options.get("max_fidelity") or max_fidelity
    return SCHEDULERS.get(spec["type"])(**options)
