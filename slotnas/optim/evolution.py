"""Evolutionary optimizers: generational Evolution and aging RegularizedEvolution."""
from __future__ import annotations

import collections
from typing import Any, Deque, List, Optional, Tuple

from ..constraints import PositiveInt, UnitInterval
from ..errors import SlotnasError
from ..params import ParamSpace
from ..trials import Trial
from .base import Arch, DiscreteOptimizer, register_optimizer

Scored = Tuple[float, Arch]


def tournament(rng: Any, pool: List[Scored], size: int) -> Arch:
    """The best of ``size`` members drawn at random from ``pool``."""
    contenders = rng.sample(pool, min(size, len(pool)))
    return max(contenders, key=lambda s: s[0])[1]


class Generational(DiscreteOptimizer):
    """A GA that proposes a whole generation at a time: random until two parents exist, then children.

    With parallel workers it waits for the last results of a generation before breeding the next.
    """

    min_population = 2

    def __init__(self, space: ParamSpace, population: int, crossover_prob: float, mutation_rate: float,
                 **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        if population < self.min_population:
            raise SlotnasError(f"optim.population: must be >= {self.min_population}, got {population}")
        self.population_size = population
        self.crossover_prob, self.mutation_rate = crossover_prob, mutation_rate
        self._pending: List[Arch] = []

    def num_parents(self) -> int:
        """How many parents the next generation can be bred from."""
        raise NotImplementedError

    def _child(self) -> Arch:
        raise NotImplementedError

    def waiting(self) -> bool:
        return not self._pending and bool(self._in_flight)

    def propose(self) -> Optional[Arch]:
        if not self._pending:
            make = self._child if self.num_parents() >= 2 else self.random_arch
            self._pending = [make() for _ in range(self.population_size)]
        return self._pending.pop()


@register_optimizer("Evolution")
class Evolution(Generational):
    """Generational GA (ModularNAS Alg. 5): survival of the best, tournament, crossover, mutation."""

    def __init__(self, space: ParamSpace, population: PositiveInt = 20, tournament_size: PositiveInt = 3,
                 crossover_prob: UnitInterval = 0.5, mutation_rate: UnitInterval = 0.2, **kwargs: Any) -> None:
        super().__init__(space, population, crossover_prob, mutation_rate, **kwargs)
        self.tournament_size = tournament_size
        self._survivors: List[Scored] = []

    def num_parents(self) -> int:
        return len(self._survivors)

    def _child(self) -> Arch:
        mother = tournament(self.rng, self._survivors, self.tournament_size)
        child = dict(mother)
        if self.rng.random() < self.crossover_prob:
            child = self.crossover(mother, tournament(self.rng, self._survivors, self.tournament_size))
        return self.mutate(child, rate=self.mutation_rate)

    def observe(self, trial: Trial) -> None:
        self._survivors.append((self.trial_score(trial), dict(trial.arch)))
        self._survivors.sort(key=lambda s: s[0], reverse=True)
        del self._survivors[self.population_size:]


@register_optimizer("RegularizedEvolution")
class RegularizedEvolution(DiscreteOptimizer):
    """Aging evolution (Real et al. 2019): mutate the tournament winner, drop the oldest member."""

    def __init__(self, space: ParamSpace, population: PositiveInt = 20, sample_size: PositiveInt = 5, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        if population < 1 or sample_size < 1:
            raise SlotnasError("optim.population and optim.sample_size must be >= 1")
        self.population_size, self.sample_size = population, sample_size
        self._population: Deque[Scored] = collections.deque(maxlen=population)

    def propose(self) -> Optional[Arch]:
        if len(self._population) < self.population_size:
            return self.random_arch()
        return self.mutate(tournament(self.rng, list(self._population), self.sample_size))

    def observe(self, trial: Trial) -> None:
        self._population.append((self.trial_score(trial), dict(trial.arch)))
