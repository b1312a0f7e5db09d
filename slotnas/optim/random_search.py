"""Random and grid search."""
from __future__ import annotations

import itertools
from typing import Any, Iterator, List, Optional

from ..constraints import PositiveInt
from ..params import Categorical, Numeric, ParamSpace
from .base import Arch, DiscreteOptimizer, register_optimizer


@register_optimizer("RandomSearch")
class RandomSearch(DiscreteOptimizer):
    """Uniformly random, never-repeated architectures."""

    def propose(self) -> Optional[Arch]:
        return self.random_arch()


@register_optimizer("GridSearch")
class GridSearch(DiscreteOptimizer):
    """Every combination in order; a Numeric contributes ``points`` evenly spaced values."""

    def __init__(self, space: ParamSpace, points: PositiveInt = 5, shuffle: bool = False, **kwargs: Any) -> None:
        super().__init__(space, **kwargs)
        combos: Iterator = itertools.product(*(self._axis(p, points) for p in self.params))
        if shuffle:
            order = list(combos)
            self.rng.shuffle(order)
            combos = iter(order)
        self._grid = combos
        self._names = [p.name for p in self.params]

    @staticmethod
    def _axis(param: Any, points: int) -> List[Any]:
        if isinstance(param, Categorical):
            return list(param.choices)
        assert isinstance(param, Numeric)
        if param.integer and param.size() <= points:
            return list(range(int(param.low), int(param.high) + 1))
        values = []
        for i in range(points):
            t = i / (points - 1) if points > 1 else 0.5
            v = param.low * (param.high / param.low) ** t if param.log else param.low + t * (param.high - param.low)
            values.append(param.validate(round(v) if param.integer else v))
        return sorted(set(values))

    def propose(self) -> Optional[Arch]:
        combo = next(self._grid, None)
        return None if combo is None else dict(zip(self._names, combo))
