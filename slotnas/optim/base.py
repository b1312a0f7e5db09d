"""One optimizer base for discrete and gradient methods; the runtime tells them finished trials.

Optimizers never see the model or the trial store. They keep only their own model state (a
population, a surrogate's data); the store owns results and hands them to ``best`` and ``rank``.
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable, List, Literal, Optional, Sequence

from ..errors import SlotnasError
from ..params import Categorical, Numeric, Param, ParamSpace
from ..pareto import costs
from ..registry import Registry, check_value
from ..trials import Arch, Metrics, Trial, TrialState, arch_key

OPTIMIZERS = Registry("optimizer")

MODES = ("max", "min")
Mode = Literal["max", "min"]  # whether the objective is maximized or minimized


def register_optimizer(name: str) -> Callable:
    """Decorator registering an Optimizer subclass under ``name``."""
    return OPTIMIZERS.register(name)


class Optimizer:
    """Base of every optimizer. ``kind`` says which estimators can drive it.

    Call order for ``kind = "discrete"`` (:class:`DiscreteOptimizer`; driven by the trial runtime):

    1. ``__init__(space, seed=..., **options)``
    2. ``waiting()``: True while it needs results of trials in flight before proposing more
       (a generational method between generations); the runtime then waits for a result.
    3. ``ask()`` -> one new architecture, or None when the space is exhausted. An asked
       architecture counts as seen (never proposed again) even before it is told.
    4. ``tell(trial)`` once per finished trial (COMPLETE, FAILED or PRUNED) in the order they finished.
       Repeat 2-4. A resumed run replays the journal's asks and tells in their original order, so a
       deterministic optimizer continues exactly where it stopped. Under a multi-fidelity scheduler
       a trial is told once, with its first rung's result.
    5. Model-based optimizers (``model_based = True``) also take ``refit(trials)``: the BOHB
       scheduler replaces their model's data by the results of one rung (the highest with enough).

    Call order for ``kind = "gradient"`` (:class:`~slotnas.optim.gradient.GradientOptimizer`;
    driven by a one-shot estimator): ``prepare(ops)``; per epoch ``on_epoch(epoch, epochs)``, per batch
    ``arch_mode()``, ``arch_step(batch)``, ``weight_mode()``; after each epoch ``discretize()`` and
    ``tell(trial)`` with the epoch's trial.

    Both kinds: ``score(metrics)`` (the objective as a number to maximize), ``best(trials)`` and
    ``rank(trials)`` over the store's trials.
    """

    kind = "discrete"
    mixed_name = "index"  # the mixed op a config's ``mixed: auto`` becomes with this optimizer

    def __init__(self, space: ParamSpace, objective: str = "val_acc", mode: Mode = "max",
                 seed: Optional[int] = None) -> None:
        check_value("optim.mode", mode, Mode)  # also for Python callers, who skip the config check
        self.space, self.objective, self.mode, self.seed = space, objective, mode, seed
        self.rng = random.Random(seed)

    def tell(self, trial: Trial) -> None:
        """Learn from one finished trial."""
        self.observe(trial)

    def observe(self, trial: Trial) -> None:
        """React to one finished trial (subclasses; default: nothing)."""

    def score(self, metrics: Metrics) -> float:
        """Objective as a number to maximize; failed or missing results score -inf."""
        cost = costs(metrics, [{"metric": self.objective, "mode": self.mode}])
        return -math.inf if cost is None else -cost[0]

    def trial_score(self, trial: Trial) -> float:
        """:meth:`score` of a COMPLETE trial; -inf for any other state."""
        return self.score(trial.metrics) if trial.state is TrialState.COMPLETE else -math.inf

    def rank(self, trials: Sequence[Trial]) -> List[Trial]:
        """The scored trials, best first (ties keep trial order)."""
        scored = [t for t in trials if self.trial_score(t) > -math.inf]
        return sorted(scored, key=lambda t: -self.trial_score(t))

    def best(self, trials: Sequence[Trial]) -> Optional[Trial]:
        """The best trial by this optimizer's objective, None before any scored one."""
        ranked = self.rank(trials)
        return ranked[0] if ranked else None


class DiscreteOptimizer(Optimizer):
    """Base of discrete optimizers: ask/tell with de-duplication; subclasses implement ``propose``."""

    model_based = False  # fits a model to results (then it implements reset_model, so refit works)

    def __init__(self, space: ParamSpace, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        self.params: List[Param] = space.discrete()  # none: a space of one architecture, {} (a fixed network)
        self._seen: set = set()  # asked or told architecture keys
        self._in_flight: set = set()  # asked, not yet told
        self._size = space.size() if all(p.size() < math.inf for p in self.params) else math.inf

    # -- interface ----------------------------------------------------------------------------
    def ask(self) -> Optional[Arch]:
        """A new architecture (never one asked or told before), None when the space is exhausted."""
        arch = self._unique(self.propose)
        if arch is not None:
            self._in_flight.add(arch_key(arch))
        return arch

    def waiting(self) -> bool:
        """Whether to hold ``ask`` until a trial in flight is told (default: never)."""
        return False

    def tell(self, trial: Trial) -> None:
        key = arch_key(trial.arch)
        self._seen.add(key)
        self._in_flight.discard(key)
        self.observe(trial)

    def refit(self, trials: Sequence[Trial]) -> None:
        """Fit the model to ``trials`` only (forgetting earlier results); what was seen stays seen."""
        self.reset_model()
        for trial in trials:
            self.observe(trial)

    def claim(self, arch: Arch) -> None:
        """Count an architecture it did not ask for as in flight (an enqueued or replayed trial)."""
        key = arch_key(arch)
        self._seen.add(key)
        self._in_flight.add(key)

    def release(self, arch: Arch) -> None:
        """Forget an asked architecture that will not be evaluated (it may be proposed again)."""
        key = arch_key(arch)
        self._seen.discard(key)
        self._in_flight.discard(key)

    # -- for subclasses -------------------------------------------------------------------------
    def reset_model(self) -> None:
        """Forget the results the model was fitted on (model-based optimizers)."""
        raise SlotnasError(f"optim {type(self).__name__} fits no model to results; allowed for BOHB: "
                           "SkoptBO, GPBO, XGBoostSMBO, TPE")

    def propose(self) -> Optional[Arch]:
        """One candidate architecture (may be a duplicate; the base class filters)."""
        raise NotImplementedError

    def random_arch(self) -> Arch:
        """Uniformly random values for every parameter."""
        return {p.name: p.sample(self.rng) for p in self.params}

    def mutate(self, arch: Arch, rate: Optional[float] = None) -> Arch:
        """Copy of ``arch`` with one parameter (or each with probability ``rate``) resampled to a new value."""
        child = dict(arch)
        targets = [p for p in self.params if p.size() > 1]
        if not targets:
            return child
        if rate is None:
            chosen = [self.rng.choice(targets)]
        else:
            chosen = [p for p in targets if self.rng.random() < rate] or [self.rng.choice(targets)]
        for p in chosen:
            child[p.name] = self._other_value(p, child[p.name])
        return child

    def crossover(self, mother: Arch, father: Arch) -> Arch:
        """Uniform crossover: each value from either parent with equal probability."""
        return {k: (mother if self.rng.random() < 0.5 else father)[k] for k in mother}

    def _other_value(self, param: Param, current: Any) -> Any:
        if isinstance(param, Categorical):
            options = [c for c in param.choices if c != current]
            return self.rng.choice(options)
        for _ in range(20):
            value = param.sample(self.rng)
            if value != current:
                return value
        return current

    @property
    def exhausted(self) -> bool:
        """Whether every architecture of a finite space has been proposed."""
        return len(self._seen) >= self._size

    def _unique(self, make: Callable[[], Optional[Arch]], tries: int = 50) -> Optional[Arch]:
        """First unseen architecture from ``make`` (then from random sampling); None if exhausted."""
        for attempt in range(tries + 1000):
            if self.exhausted:
                return None
            arch = make() if attempt < tries else self.random_arch()
            if arch is None:
                return None
            key = arch_key(arch)
            if key not in self._seen:
                self._seen.add(key)
                return arch
        return None


def scale(param: Numeric, value: float) -> float:
    """A numeric value on the [0, 1] axis of its range (log axis if the parameter is log-scaled)."""
    lo, hi, v = (math.log(param.low), math.log(param.high), math.log(value)) if param.log \
        else (param.low, param.high, value)
    return (v - lo) / (hi - lo) if hi > lo else 0.0


def unscale(param: Numeric, x: float) -> Any:
    """The parameter's valid value at ``x`` on its [0, 1] axis (clipped; rounded if integer)."""
    x = min(1.0, max(0.0, float(x)))
    value = math.exp(math.log(param.low) + x * (math.log(param.high) - math.log(param.low))) if param.log \
        else param.low + x * (param.high - param.low)
    value = min(param.high, max(param.low, value))  # exp(log) can land a rounding error outside
    return param.validate(round(value) if param.integer else value)


__all__ = ["OPTIMIZERS", "Optimizer", "DiscreteOptimizer", "register_optimizer", "arch_key", "scale",
           "unscale"]
