"""Value ranges for config options, written where the option is declared: ``epochs: PositiveInt``.

A constraint is ``typing.Annotated`` metadata on a signature's type hint, so one declaration serves
the component (its type hint) and the config check (``registry.check_options`` reads it before any
work). Floats must always be finite; a bool is never an int or a float here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional

try:
    from typing import Annotated
except ImportError:  # Python 3.8
    from typing_extensions import Annotated  # type: ignore[assignment]


@dataclass(frozen=True)
class Range:
    """A number in [low, high] (open ends with ``low_open`` / ``high_open``; None: unbounded)."""

    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: Any) -> bool:
        """Whether ``value`` (already type-checked) lies in the range."""
        if self.low is not None and (value < self.low or self.low_open and value == self.low):
            return False
        return not (self.high is not None and (value > self.high or self.high_open and value == self.high))

    def describe(self) -> str:
        """The range in words, e.g. '>= 1' or 'in (0, 1)'."""
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return "finite"


@dataclass(frozen=True)
class Length:
    """A list with at least ``low`` items (and at most ``high`` when given)."""

    low: int = 1
    high: Optional[int] = None

    def holds(self, value: Any) -> bool:
        """Whether the list's length is allowed."""
        return len(value) >= self.low and (self.high is None or len(value) <= self.high)

    def describe(self) -> str:
        """The length in words, e.g. 'with at least 1 item'."""
        if self.high is None:
            return f"with at least {self.low} item{'s' if self.low != 1 else ''}"
        return f"with {self.low} to {self.high} items"


PositiveInt = Annotated[int, Range(1)]
NonNegativeInt = Annotated[int, Range(0)]
PositiveFloat = Annotated[float, Range(0, low_open=True)]
NonNegativeFloat = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1, low_open=True, high_open=True)]  # strictly between 0 and 1
UnitInterval = Annotated[float, Range(0, 1)]  # 0 and 1 included (probabilities, momentum)
Beta = Annotated[float, Range(0, 1, high_open=True)]  # an Adam beta: [0, 1)
Dropout = Annotated[float, Range(0, 1, high_open=True)]  # a drop or smoothing probability: [0, 1)
# Structural counts that drive loops while a network is built: bounded so that a typo such as 4000000
# nodes is refused at once instead of building for hours. Far above any published space (DARTS: 4
# nodes per cell, 20 cells; Liu et al.'s hierarchical space: 3 levels, 14 nodes).
NodeCount = Annotated[int, Range(1, 64)]
LevelCount = Annotated[int, Range(1, 8)]
MAX_LAYERS = 1000
LayerCount = Annotated[int, Range(1, MAX_LAYERS)]  # blocks in a chain
Layout = Annotated[List[int], Length(1, MAX_LAYERS)]  # one entry per cell, e.g. a cell layout's group ids
Shape = Annotated[List[PositiveInt], Length(1)]  # an input shape such as [3, 32, 32]
Names = Annotated[List[str], Length(1)]  # a non-empty list of names, e.g. candidate ids


def finite(value: Any) -> bool:
    """Whether a number is finite (NaN and infinities are never a valid option)."""
    return not isinstance(value, float) or math.isfinite(value)
