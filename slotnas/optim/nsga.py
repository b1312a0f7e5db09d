"""NSGA-II: multi-objective evolution with non-dominated sorting and crowding distance."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..constraints import PositiveInt, UnitInterval
from ..params import ParamSpace
from ..pareto import check_objectives, costs, non_dominated_sort, pareto_order
from ..trials import Trial, TrialState
from .base import Arch, register_optimizer
from .evolution import Generational


@register_optimizer("NSGA2")
class NSGA2(Generational):
    """Generational multi-objective GA (Deb et al. 2002); ``best()`` ranks by the first objective."""

    min_population = 4

    def __init__(self, space: ParamSpace, objectives: Optional[List[Dict[str, str]]] = None, population: PositiveInt = 20,
                 crossover_prob: UnitInterval = 0.9, mutation_rate: UnitInterval = 0.2, **kwargs: Any) -> None:
        objectives = check_objectives(objectives or [{"metric": "val_acc", "mode": "max"},
                                                     {"metric": "params", "mode": "min"}])
        kwargs.setdefault("objective", objectives[0]["metric"])
        kwargs.setdefault("mode", objectives[0]["mode"])
        super().__init__(space, population, crossover_prob, mutation_rate, **kwargs)
        self.objectives = objectives
        self._parents: List[Tuple[Arch, Tuple[float, ...]]] = []
        self._offspring: List[Tuple[Arch, Tuple[float, ...]]] = []
        self._rank: Dict[int, Tuple[int, float]] = {}

    def num_parents(self) -> int:
        return len(self._parents)

    def observe(self, trial: Trial) -> None:
        vec = costs(trial.metrics, self.objectives) if trial.state is TrialState.COMPLETE else None
        if vec is None:
            return  # failed architectures never become parents
        self._offspring.append((dict(trial.arch), vec))
        if len(self._offspring) >= self.population_size:
            self._select()

    def _select(self) -> None:
        """Environmental selection: best fronts of parents + offspring, ties broken by crowding."""
        pool = self._parents + self._offspring
        self._offspring = []
        order = pareto_order([vec for _, vec in pool])[: self.population_size]
        chosen = [i for i, _, _ in order]
        self._rank = {new: (rank, crowd) for new, (_, rank, crowd) in enumerate(order)}
        self._parents = [pool[i] for i in chosen]

    def _tournament(self) -> Arch:
        a, b = self.rng.randrange(len(self._parents)), self.rng.randrange(len(self._parents))
        ra, rb = self._rank.get(a, (0, 0.0)), self._rank.get(b, (0, 0.0))
        better = a if (ra[0], -ra[1]) <= (rb[0], -rb[1]) else b
        return self._parents[better][0]

    def _child(self) -> Arch:
        mother, father = self._tournament(), self._tournament()
        child = self.crossover(mother, father) if self.rng.random() < self.crossover_prob else dict(mother)
        return self.mutate(child, rate=self.mutation_rate)

    def front(self) -> List[Tuple[Arch, Tuple[float, ...]]]:
        """Current first front among the parents (architecture, cost vector)."""
        if not self._parents:
            return []
        first = non_dominated_sort([vec for _, vec in self._parents])[0]
        return [self._parents[i] for i in first]
