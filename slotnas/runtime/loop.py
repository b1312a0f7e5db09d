"""The asynchronous ask/tell loop over an executor, and the replay that rebuilds it from the store."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, List, Optional

from ..optim.base import DiscreteOptimizer
from ..trials import Arch, Trial, TrialState, arch_key
from .executors import Executor

if TYPE_CHECKING:
    from ..callbacks import Callback
    from .context import Run

log = logging.getLogger("slotnas")

Propose = Callable[[], Optional[Arch]]


def replay(run: "Run", propose: Propose) -> List[Trial]:
    """Replay the journal's asks and tells into a fresh optimizer; return trials still RUNNING (by index).

    A trial's RUNNING line is an ask and its final line a tell, in the order they happened, so a
    deterministic optimizer ends in the state it had at the kill. Should it propose something other
    than what was stored, the stored trial wins and a warning says so once.
    """
    optimizer, running, diverged = run.optimizer, {}, 0
    assert isinstance(optimizer, DiscreteOptimizer)  # only discrete runs replay
    for event in run.store.events():
        if event.kind != "search":
            continue
        if event.state is TrialState.RUNNING:
            diverged += replay_ask(optimizer, propose, event.arch)
            running[event.index] = event
        else:
            running.pop(event.index, None)
            optimizer.tell(event)
    warn_diverged(optimizer, diverged)
    return [running[i] for i in sorted(running)]


def replay_ask(optimizer: DiscreteOptimizer, propose: Propose, stored: Arch) -> bool:
    """Ask again where the journal asked; if the answer differs, the stored architecture wins (claimed)
    and the answer is released. Returns whether it differed."""
    asked = propose()
    if asked is not None and arch_key(asked) == arch_key(stored):
        return False
    if asked is not None:
        optimizer.release(asked)
    optimizer.claim(stored)
    return True


def warn_diverged(optimizer: object, diverged: int) -> None:
    """One warning when a replayed optimizer proposed something else than the journal holds."""
    if diverged:
        log.warning("slotnas: warning: %s did not reproduce %d stored proposal(s); continuing from the stored trials",
                    type(optimizer).__name__, diverged)


def drive(run: "Run", executor: Executor, propose: Propose, callbacks: "Callback", requeue: List[Trial]) -> None:
    """Keep every executor slot busy until the budget is started and every started trial has finished.

    Trials RUNNING at a previous kill (``requeue``) go first, with their own index. Whenever a slot
    frees the optimizer is asked for one more architecture, unless it is ``waiting()`` for results.
    """
    store, optimizer = run.store, run.optimizer
    assert isinstance(optimizer, DiscreteOptimizer)
    requeue = list(requeue)
    in_flight = 0
    exhausted = False
    while True:
        while in_flight < executor.slots:
            if requeue:
                trial = requeue.pop(0)
            else:
                waiting = in_flight and optimizer.waiting()
                if exhausted or waiting or store.started() >= run.budget:
                    break
                arch = propose()
                if arch is None:
                    exhausted = True
                    break
                trial = store.start(arch)
            executor.submit(trial)
            in_flight += 1
        if not in_flight:
            return
        for trial in executor.wait():
            in_flight -= 1
            store.finish(trial)
            optimizer.tell(trial)
            callbacks.on_trial_complete(run, trial)
