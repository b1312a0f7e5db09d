"""Multi-fidelity schedulers: which trial runs next and at what fidelity (rung).

A scheduler sees only trial indices, rungs and cost vectors (objectives to minimize, from
``pareto.costs``); the runtime turns its jobs into trials. Call order:

1. ``next_job()`` -> ``Job(index=None, fidelity=r)`` (start a new architecture at rung r),
   ``Job(index=i, fidelity=r)`` (continue trial i to rung r), or None (nothing to run now).
   Subclasses implement ``_next_job``; the base stops giving jobs once ``fidelity_budget`` units
   (e.g. epochs: a new trial costs its rung, a promotion the rungs' difference, or its whole rung when
   ``continues`` is False) have been handed out.
2. ``on_result(index, fidelity, costs)`` when a job ends (``costs`` None for a failed trial).
3. ``done`` tells whether the scheduler will never give another job.

Rungs are ``min_fidelity * eta**k`` up to ``max_fidelity`` (which is always the last rung).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from .constraints import Annotated, PositiveInt, Range
from .errors import SlotnasError
from .pareto import costs, crowding_distance, non_dominated_sort
from .registry import Registry

SCHEDULERS = Registry("scheduler")
Costs = Optional[Tuple[float, ...]]
Eta = Annotated[int, Range(2)]  # the reduction factor between rungs


class Job(NamedTuple):
    """Run trial ``index`` (None: a new architecture) up to ``fidelity``."""

    index: Optional[int]
    fidelity: int


def rungs(min_fidelity: int, max_fidelity: int, eta: int) -> List[int]:
    """min, min*eta, min*eta^2, ... below max, then max."""
    if not (isinstance(eta, int) and eta >= 2):
        raise SlotnasError(f"scheduler.eta: expected an integer >= 2, got {eta!r}")
    if not (1 <= min_fidelity <= max_fidelity):
        raise SlotnasError(f"scheduler.min_fidelity: expected 1 <= min_fidelity <= max_fidelity ({max_fidelity}), "
                           f"got {min_fidelity}")
    out, r = [], min_fidelity
    while r < max_fidelity:
        out.append(r)
        r *= eta
    return out + [max_fidelity]


def ranked(results: Sequence[Tuple[int, Costs]]) -> List[int]:
    """Trial indices best first: by cost (one objective) or non-dominated rank then crowding (several);
    failed trials last."""
    ok = [(i, c) for i, c in results if c is not None]
    failed = [i for i, c in results if c is None]
    if not ok:
        return failed
    if len(ok[0][1]) == 1:
        return [i for i, _ in sorted(ok, key=lambda r: r[1][0])] + failed
    points = [c for _, c in ok]
    order: List[int] = []
    for front in non_dominated_sort(points):
        crowd = crowding_distance(points, front)
        order += [ok[j][0] for j in sorted(front, key=lambda j: -crowd[j])]
    return order + failed


@dataclass(frozen=True)
class StopRule:
    """ASHA's stopping rule as a snapshot a worker can take along: a trial that reports at a rung below
    the last stops unless it is in the top ceil(k / eta) of the k results known there (its own included).
    Ranked like the rungs: by cost, or by non-dominated sorting for several objectives."""

    rungs: Tuple[int, ...]
    eta: int
    objectives: Tuple[Dict[str, str], ...]
    results: Dict[int, Tuple[Costs, ...]]

    def stops(self, step: int, metrics: Dict[str, Any]) -> bool:
        """Whether a trial that reported ``metrics`` at ``step`` should stop there."""
        if step not in self.results:
            return False  # not a rung, or the last one
        mine = costs(metrics, self.objectives)
        if mine is None:
            return True  # a missing or non-finite objective (e.g. a NaN loss): nothing to continue for
        order = ranked([(i, c) for i, c in enumerate(self.results[step])] + [(-1, mine)])
        return -1 not in order[: math.ceil(len(order) / self.eta)]


class Scheduler:
    """Base: rungs, the results reported at each rung, and which trials were promoted from it."""

    def __init__(self, max_fidelity: Optional[PositiveInt] = None, min_fidelity: PositiveInt = 1, eta: Eta = 3,
                 fidelity_budget: Optional[PositiveInt] = None) -> None:
        if not isinstance(max_fidelity, int) or max_fidelity < 1:
            raise SlotnasError(f"scheduler.max_fidelity: expected an integer >= 1 (default: the estimator's epochs), "
                               f"got {max_fidelity!r}")
        self.fidelity_budget = math.inf if fidelity_budget is None else fidelity_budget
        self.spent = 0  # fidelity units handed out in jobs
        self.eta, self.max_fidelity = eta, max_fidelity
        self.rungs = rungs(min_fidelity, max_fidelity, eta)
        self.results: Dict[int, List[Tuple[int, Costs]]] = {r: [] for r in self.rungs}
        self.promoted: Dict[int, Set[int]] = {r: set() for r in self.rungs}
        self.new_allowed = math.inf  # how many new architectures may still start (set by the runtime)
        self.stopping = False  # set by the runtime for estimators that report per step instead of resuming
        self.continues = True  # set by the runtime: a promotion continues (costs the rungs' difference)

    def next_job(self) -> Optional[Job]:
        """The next job, or None when nothing can run now (or the fidelity budget is spent)."""
        return None if self.spent >= self.fidelity_budget else self._next_job()

    def _next_job(self) -> Optional[Job]:
        raise NotImplementedError

    def on_result(self, index: int, fidelity: int, costs: Costs) -> None:
        """A job ended: trial ``index`` reached ``fidelity`` with ``costs`` (None: failed)."""
        self.results[fidelity].append((index, costs))

    @property
    def done(self) -> bool:
        """True when no job will ever come (no new trials allowed and nothing left to promote)."""
        return self.spent >= self.fidelity_budget or (self.new_allowed <= 0 and self.next_promotion() is None)

    def top(self, rung: int, count: int) -> List[int]:
        """The ``count`` best trials at ``rung`` that did not fail."""
        ok = {i for i, c in self.results[rung] if c is not None}
        return [i for i in ranked(self.results[rung]) if i in ok][:count]

    def stop_rule(self, objectives: Sequence[Dict[str, str]]) -> StopRule:
        """The stopping rule with the results known now (stopping mode: trials run on unless it stops them)."""
        return StopRule(tuple(self.rungs), self.eta, tuple(objectives),
                        {r: tuple(c for _, c in self.results[r]) for r in self.rungs[:-1]})

    def next_promotion(self) -> Optional[Job]:
        """ASHA's rule, highest rung first: a trial in the top 1/eta of its rung not promoted yet."""
        if self.stopping:
            return None  # trials go on by themselves unless the stop rule ends them
        for k in range(len(self.rungs) - 2, -1, -1):
            rung = self.rungs[k]
            for index in self.top(rung, len(self.results[rung]) // self.eta):
                if index not in self.promoted[rung]:
                    return Job(index, self.rungs[k + 1])
        return None

    def promote(self, job: Job) -> Job:
        """Record that ``job`` continues its trial from the rung below."""
        below = self.rungs[self.rungs.index(job.fidelity) - 1]
        self.promoted[below].add(job.index)  # type: ignore[arg-type]
        self.spent += job.fidelity - (below if self.continues else 0)
        return job

    def start(self, fidelity: int) -> Job:
        """A new architecture at ``fidelity``."""
        self.new_allowed -= 1
        self.spent += fidelity
        return Job(None, fidelity)


@SCHEDULERS.register("ASHA")
class ASHA(Scheduler):
    """Asynchronous successive halving (Li et al. 2020): promote whenever a trial is in its rung's top
    1/eta, else start a new architecture at the lowest rung. With several objectives (MOASHA) the rung
    is ranked by non-dominated sorting and crowding distance. For estimators without a resumable
    fidelity that report per epoch (``Estimator.report``) it runs in stopping mode: each trial runs
    towards the maximum fidelity and stops at a rung where :class:`StopRule` says so."""

    stopping_capable = True

    def _next_job(self) -> Optional[Job]:
        job = self.next_promotion()
        if job is not None:
            return self.promote(job)
        return self.start(self.rungs[-1 if self.stopping else 0]) if self.new_allowed > 0 else None


class _Bracket:
    """One successive-halving bracket in progress: its plan, level, and the results of that level."""

    def __init__(self, plan: List[Tuple[int, int]]) -> None:
        self.plan, self.level = plan, 0
        self.to_start, self.started = plan[0][1], 0
        self.reported: List[Tuple[int, Costs]] = []
        self.expected = 0
        self.queue: List[Job] = []


@SCHEDULERS.register("MOASHA")
class MOASHA(ASHA):
    """Multi-objective ASHA: ASHA whose rungs rank trials by non-dominated sorting and crowding distance
    over the config's ``objectives`` (e.g. val_acc max, latency_ms min); needs two or more objectives."""

    multi_objective = True


@SCHEDULERS.register("SuccessiveHalving")
class SuccessiveHalving(Scheduler):
    """Synchronous successive halving: ``n`` new architectures at the lowest rung; when a rung is complete
    the top floor(n_k / eta) go up one rung; brackets repeat while new architectures are allowed."""

    def __init__(self, max_fidelity: Optional[PositiveInt] = None, min_fidelity: PositiveInt = 1, eta: Eta = 3,
                 n: Optional[PositiveInt] = None, fidelity_budget: Optional[PositiveInt] = None) -> None:
        super().__init__(max_fidelity, min_fidelity, eta, fidelity_budget)
        self.cycle = [(n or eta ** (len(self.rungs) - 1), 0)]  # (architectures, index of the first rung)
        self._pending: List[Tuple[int, int]] = []
        self._bracket: Optional[_Bracket] = None

    def bracket_plan(self, n: int, first: int) -> List[Tuple[int, int]]:
        """(rung, trials) of a bracket of ``n`` starting at ``rungs[first]``: floor(n_k / eta) per rung up."""
        plan = []
        for rung in self.rungs[first:]:
            if n == 0:
                break
            plan.append((rung, n))
            n //= self.eta
        return plan

    def _next_job(self) -> Optional[Job]:
        while True:
            if self._bracket is None:
                if self.new_allowed <= 0:
                    return None
                if not self._pending:
                    self._pending = list(self.cycle)
                self._bracket = _Bracket(self.bracket_plan(*self._pending.pop(0)))
            b = self._bracket
            if b.queue:
                return self.promote(b.queue.pop(0))
            rung = b.plan[b.level][0]
            if b.level == 0 and b.to_start > 0 and self.new_allowed > 0:
                b.to_start -= 1
                b.started += 1
                return self.start(rung)
            expected = b.started if b.level == 0 else b.expected
            if len(b.reported) < expected:
                return None  # wait for this rung to complete
            keep = self.top(rung, len(self.results[rung]))
            mine = {i for i, _ in b.reported}
            keep = [i for i in keep if i in mine][: b.plan[b.level + 1][1]] if b.level + 1 < len(b.plan) else []
            if not keep:
                self._bracket = None
                continue
            b.level, b.expected, b.reported = b.level + 1, len(keep), []
            b.queue = [Job(i, b.plan[b.level][0]) for i in keep]

    def on_result(self, index: int, fidelity: int, costs: Costs) -> None:
        super().on_result(index, fidelity, costs)
        b = self._bracket
        if b is not None and fidelity == b.plan[b.level][0]:
            b.reported.append((index, costs))

    @property
    def done(self) -> bool:
        return self.spent >= self.fidelity_budget or (self._bracket is None and self.new_allowed <= 0)


@SCHEDULERS.register("Hyperband")
class Hyperband(SuccessiveHalving):
    """Hyperband (Li et al. 2018): successive-halving brackets s = s_max .. s_max - brackets + 1, bracket s
    starting ceil((s_max + 1) / (s + 1) * eta^s) architectures at rung s_max - s; the cycle repeats."""

    def __init__(self, max_fidelity: Optional[PositiveInt] = None, min_fidelity: PositiveInt = 1, eta: Eta = 3,
                 brackets: Optional[PositiveInt] = None, fidelity_budget: Optional[PositiveInt] = None) -> None:
        super().__init__(max_fidelity, min_fidelity, eta, fidelity_budget=fidelity_budget)
        s_max = len(self.rungs) - 1
        count = s_max + 1 if brackets is None else brackets
        if not 1 <= count <= s_max + 1:
            raise SlotnasError(f"scheduler.brackets: expected 1..{s_max + 1} for these rungs, got {count}")
        self.cycle = [(math.ceil((s_max + 1) / (s + 1) * eta ** s), s_max - s)
                      for s in range(s_max, s_max - count, -1)]


@SCHEDULERS.register("BOHB")
class BOHB(Hyperband):
    """Model-based Hyperband (Falkner et al. 2018): Hyperband's brackets, new architectures from a
    model-based optimizer (SkoptBO, XGBoostSMBO or TPE) fitted on the highest rung that holds at least
    ``min_points`` results (default: parameters + 1); until one does, the optimizer's random start."""

    model_based = True

    def __init__(self, max_fidelity: Optional[PositiveInt] = None, min_fidelity: PositiveInt = 1, eta: Eta = 3,
                 brackets: Optional[PositiveInt] = None, min_points: Optional[PositiveInt] = None,
                 fidelity_budget: Optional[PositiveInt] = None) -> None:
        super().__init__(max_fidelity, min_fidelity, eta, brackets, fidelity_budget)
        self.min_points = min_points

    def model_rung(self, default_points: int) -> Optional[int]:
        """The highest rung with ``min_points`` (else ``default_points``) successful results, or None."""
        need = self.min_points or default_points
        for rung in reversed(self.rungs):
            if sum(c is not None for _, c in self.results[rung]) >= need:
                return rung
        return None
