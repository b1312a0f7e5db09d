"""The multi-fidelity loop: a scheduler picks jobs (new architecture or promotion), workers train up to rungs."""
from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Set

from ..errors import SlotnasError
from ..pareto import costs
from ..schedulers import Scheduler
from ..trials import Trial, TrialState
from .evaluate import checkpoint_path
from .executors import Executor
from .loop import Propose, replay_ask, warn_diverged

if TYPE_CHECKING:
    from ..callbacks import Callback
    from ..store import TrialStore
    from .context import Run


class Rungs:
    """One multi-fidelity run: the scheduler and the optimizer learn every result the same way whether
    it happens now (:meth:`drive`) or is replayed from the journal of a killed run (:meth:`replay`)."""

    def __init__(self, run: "Run", scheduler: Scheduler, objectives: Sequence[Dict[str, str]],
                 propose: Propose) -> None:
        self.run, self.scheduler, self.objectives, self.propose = run, scheduler, list(objectives), propose
        scheduler.stopping = self.stopping = not run.estimator.resumable()
        scheduler.continues = run.estimator.fidelity_continues
        self.told: Set[int] = set()

    def learn(self, trial: Trial) -> None:
        """A job's result: to the scheduler (a cost vector), to the optimizer (each trial once, at its
        first result; paused results count as complete there) and, under BOHB, a refit on the model rung."""
        scheduler, optimizer = self.scheduler, self.run.optimizer
        failed = trial.state is TrialState.FAILED
        if self.stopping:
            _account_stopped(scheduler, trial, self.objectives)
        else:
            scheduler.on_result(trial.index, int(trial.fidelity),  # type: ignore[arg-type]
                                None if failed else costs(trial.metrics, self.objectives))
        if trial.index not in self.told:
            self.told.add(trial.index)
            optimizer.tell(trial if trial.state.finished else replace(trial, state=TrialState.COMPLETE))
        if getattr(scheduler, "model_based", False):  # BOHB: the model sees only its rung's results
            rung = scheduler.model_rung(len(optimizer.params) + 1)  # type: ignore[attr-defined]
            optimizer.refit(rung_trials(self.run.store, rung) if rung is not None else [])

    def final(self, trial: Trial) -> bool:
        """Whether a job's result ends its trial (failed, stopped or at the maximum fidelity)."""
        return trial.state is TrialState.FAILED or self.stopping or trial.fidelity >= self.scheduler.max_fidelity

    def replay(self) -> List[Trial]:
        """Rebuild the scheduler and the optimizer from the journal; return the jobs a kill interrupted.

        Jobs and results were journaled in the order the scheduler gave and took them, so asking it
        again at each job line gives the same jobs (checked); a job line without a result after it
        runs again with its own index and rung (continuing the checkpoint of the rung below).
        """
        scheduler, store = self.scheduler, self.run.store
        scheduler.new_allowed = float("inf")  # the journal, not the budget, says which jobs were taken
        seen: Set[int] = set()
        pending: Dict[int, Trial] = {}
        diverged = 0
        for event in store.events():
            if event.kind != "search":
                continue
            if event.state is TrialState.RUNNING and not event.metrics:  # a job was taken
                job = scheduler.next_job()
                new = event.index not in seen
                if job is None or (job.index is None) != new or (not new and job.index != event.index) \
                        or job.fidelity != event.fidelity:
                    raise SlotnasError(f"run.resume: the {type(scheduler).__name__} scheduler does not reproduce "
                                       f"job {event.index}@{event.fidelity} of the journal; start a new run")
                if new:
                    seen.add(event.index)
                    diverged += replay_ask(self.run.optimizer, self.propose, event.arch)
                pending[event.index] = event
            elif event.state is TrialState.PRUNED and not self.stopping:
                continue  # a paused trial pruned at the end of a run: its rung result was learned already
            else:
                pending.pop(event.index, None)
                self.learn(event)
        warn_diverged(self.run.optimizer, diverged)
        return [pending[i] for i in sorted(pending)]

    def drive(self, executor: Executor, callbacks: "Callback", checkpoints: str, keep_checkpoints: bool,
              requeue: Sequence[Trial] = ()) -> None:
        """Run the scheduler's jobs on every free worker until it is done; then prune the paused trials.

        A trial that reached the maximum fidelity (or failed, or was stopped) is final, others stay
        paused at their rung (a RUNNING line with the rung's metrics). Estimators without a resumable
        fidelity run in stopping mode: each trial runs towards the maximum fidelity with the
        scheduler's stop rule and reports per step. ``run.budget`` counts architectures,
        ``scheduler.fidelity_budget`` epochs; ``requeue`` (from :meth:`replay`) runs first.
        """
        run, scheduler, store = self.run, self.scheduler, self.run.store
        scheduler.new_allowed = run.budget - store.started()
        queue = list(requeue)
        in_flight = 0
        while True:
            while in_flight < executor.slots:
                if queue:
                    trial = queue.pop(0)
                else:
                    job = scheduler.next_job()
                    if job is None:
                        break
                    if job.index is None:
                        arch = self.propose()
                        if arch is None:  # the space is exhausted
                            scheduler.new_allowed = 0
                            continue
                        trial = store.start(arch, fidelity=job.fidelity)
                    else:
                        trial = store.restart(job.index, job.fidelity)
                executor.submit(trial, scheduler.stop_rule(self.objectives) if self.stopping else None)
                in_flight += 1
            if not in_flight:
                break
            for trial in executor.wait():
                in_flight -= 1
                final = self.final(trial)
                recorded = store.finish(trial) if final else store.report(trial)
                self.learn(recorded)
                if final:
                    _drop(checkpoints, trial.index, keep_checkpoints)
                    callbacks.on_trial_complete(run, recorded)
                else:
                    callbacks.on_trial_report(run, recorded)
        for trial in paused(store.trials()):
            pruned = store.finish(replace(trial, state=TrialState.PRUNED))
            _drop(checkpoints, trial.index, keep_checkpoints)
            callbacks.on_trial_complete(run, pruned)


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


def paused(trials: List[Trial]) -> List[Trial]:
    """Trials that stopped at a rung (RUNNING with that rung's metrics)."""
    return [t for t in trials if t.state is TrialState.RUNNING and t.metrics]


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
