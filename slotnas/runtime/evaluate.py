"""One trial's evaluation in whatever process runs it: seeding, transform, estimate, failure policy."""
from __future__ import annotations

import builtins
import os
import random
import time
from dataclasses import replace
from typing import Any, Optional, Sequence, Tuple, Type

import torch

from ..data import shuffle_generators
from ..errors import ARCHITECTURE_FAILURES, SlotnasError
from ..estim.reporter import Reporter
from ..files import save_torch
from ..registry import import_attr
from ..schedulers import StopRule
from ..trials import Trial, TrialState

def resolve_catch(names: Sequence[str], key: str = "run.catch") -> Tuple[Type[BaseException], ...]:
    """Exception classes from builtin names (``RuntimeError``) or ``module:attr``; one-line errors."""
    out = []
    for name in names:
        if not isinstance(name, str):
            raise SlotnasError(f"{key}: expected exception names, got {type(name).__name__} {name!r}")
        if ":" in name:
            cls = import_attr(name, key)
        else:
            cls = getattr(builtins, name, None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            raise SlotnasError(f"{key}: {name!r} is not an exception class; allowed: builtin exception names "
                               f"such as {', '.join(ARCHITECTURE_FAILURES)}, or module:Class")
        out.append(cls)
    return tuple(out)


def trial_seed(run_seed: int, index: int) -> int:
    """The seed of trial ``index`` of a run: its result depends on nothing evaluated before it."""
    return (run_seed * 1_000_003 + index * 7_919 + 17) % (2 ** 31)


def seed_trial(run_seed: int, index: int, data: Any) -> None:
    """Seed Python, torch and the data's shuffling generators for one trial."""
    seed = trial_seed(run_seed, index)
    random.seed(seed)
    torch.manual_seed(seed)
    for generator in shuffle_generators(data):
        generator.manual_seed(seed)


def retrain_fixed(model: Any, data: Any, trainer: Any, metrics: Sequence[Any], epochs: int, run_seed: int,
                  index: int) -> Any:
    """Train a fixed network from scratch for ``epochs`` (seeded like trial ``index``); its validation and
    test metrics (the winner's retraining and ``slotnas export --trial``)."""
    from ..estim.subnet import DefaultEstim
    from ..params import ParamSpace

    seed_trial(run_seed, index, data)
    return DefaultEstim(model, ParamSpace(), data, trainer, metrics=metrics, epochs=epochs).measure()


CHECKPOINTS = "checkpoints"  # the run folder's folder of trials' training states between rungs


def checkpoint_path(folder: str, index: int) -> str:
    """Where trial ``index`` keeps its training state between rungs."""
    return os.path.join(folder, f"trial-{index}.pt")


def evaluate_trial(estim: Any, trial: Trial, run_seed: int, catch: Tuple[Type[BaseException], ...],
                   worker: str, run_dir: Optional[str] = None, rule: Optional[StopRule] = None) -> Trial:
    """Apply ``trial.arch`` to the space and estimate it; an exception in ``catch`` makes it FAILED
    (NotImplementedError, though a RuntimeError, is always a bug and stops the run).

    A trial with a fidelity (a scheduler's rung) is trained up to it, continuing its checkpoint in the run
    folder's ``checkpoints`` if an earlier rung left one, and leaves the new state there. The estimator
    learns the trial's index and its own folder ``trials/trial-i`` (made when it writes there). Errors while applying
    the architecture (a transform handler, an invalid value) and every SlotnasError propagate: they
    are bugs or config errors, not properties of the architecture. With a stopping ``rule`` the trial
    runs towards its fidelity and ends PRUNED where the rule stops what the estimator reports.
    """
    estim.space.update(trial.arch)
    estim.reporter = reporter = Reporter(rule)
    estim.trial_index = trial.index
    estim.trial_dir = None if run_dir is None else os.path.join(run_dir, "trials", f"trial-{trial.index}")
    checkpoints = None if run_dir is None else os.path.join(run_dir, CHECKPOINTS)
    resume = None
    if trial.fidelity is not None and checkpoints is not None and rule is None:
        path = checkpoint_path(checkpoints, trial.index)
        resume = torch.load(path, map_location="cpu", weights_only=True) if os.path.isfile(path) else None
    if resume is None:
        seed_trial(run_seed, trial.index, estim.data)  # after the update: lazily built candidates draw no numbers
    start = time.perf_counter()
    error = None
    try:
        if trial.fidelity is None or rule is not None:
            metrics = estim.measure()
        else:
            metrics, state = estim.measure_at(int(trial.fidelity), resume)
            if checkpoints is not None and state is not None:  # None: the next rung starts again
                save_torch(checkpoint_path(checkpoints, trial.index), state)
    except (SlotnasError, NotImplementedError):
        raise
    except catch as exc:
        metrics, error = {}, f"{type(exc).__name__}: {exc}"
    seconds = round(time.perf_counter() - start, 4)
    finished = replace(trial.finish(metrics, seconds=seconds, error=error), worker=worker,
                       intermediate=reporter.values)
    if reporter.stopped is not None and error is None:
        finished = replace(finished, state=TrialState.PRUNED, fidelity=reporter.stopped)
    return finished
