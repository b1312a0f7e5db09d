"""Architecture parameters (Categorical, Numeric, TensorParam) and the ParamSpace that owns them."""
from __future__ import annotations

import math
import numbers
import random
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, Union

import torch
from torch import nn

from .errors import ParamError
from .events import EventBus, Handler
from .registry import did_you_mean

RngLike = Union[random.Random, int, None]


def as_rng(rng: RngLike) -> random.Random:
    """A ``random.Random`` from a seed, an existing generator, or None (fresh entropy)."""
    return rng if isinstance(rng, random.Random) else random.Random(rng)


def _short_list(items: Sequence[Any], limit: int = 12) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


class Param:
    """Base of architecture parameters: a named value that a ParamSpace validates and watches."""

    def __init__(self, name: Optional[str] = None, on_update: Optional[Callable] = None) -> None:
        self.name = name
        self.space: Optional["ParamSpace"] = None
        self._pending: List[Callable] = [on_update] if on_update is not None else []
        self._value: Any = None

    @property
    def value(self) -> Any:
        """The current value."""
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        if self.space is not None:
            self.space.update({self.name: value})
        else:
            self._assign(self.validate(value))

    def _assign(self, value: Any) -> Any:
        """Set the (validated) value without events; return the previous value."""
        old, self._value = self._value, value
        return old

    def same(self, value: Any) -> bool:
        """Whether ``value`` equals the current value (then no update event is emitted)."""
        return value == self._value

    def validate(self, value: Any) -> Any:
        """Return ``value`` normalized, or raise ParamError naming this parameter."""
        raise NotImplementedError

    def sample(self, rng: random.Random) -> Any:
        """A uniformly random allowed value."""
        raise NotImplementedError

    def size(self) -> float:
        """Number of distinct values (math.inf if continuous)."""
        raise NotImplementedError

    def to_plain(self) -> Any:
        """The value as plain YAML-serializable data."""
        return self._value

    def _error(self, value: Any, allowed: str) -> ParamError:
        return ParamError(f"parameter {self.name!r}: value {value!r} not allowed; allowed: {allowed}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, value={self.to_plain()!r})"


class Categorical(Param):
    """A choice among a list of hashable values (candidate ids, kernel sizes, ...)."""

    def __init__(
        self,
        choices: Sequence[Any],
        default: Any = None,
        name: Optional[str] = None,
        on_update: Optional[Callable] = None,
    ) -> None:
        super().__init__(name, on_update)
        self.choices = list(choices)
        if not self.choices:
            raise ParamError(f"parameter {name!r}: choices must not be empty")
        try:
            self._index = {c: i for i, c in enumerate(self.choices)}
        except TypeError:
            raise ParamError(f"parameter {name!r}: choices must be hashable, got {self.choices!r}") from None
        if len(self._index) != len(self.choices):
            raise ParamError(f"parameter {name!r}: choices must be unique, got {self.choices!r}")
        self.default = self.choices[0] if default is None else self.validate(default)
        self._value = self.default

    def validate(self, value: Any) -> Any:
        if isinstance(value, list):
            value = tuple(value)
        try:
            return self.choices[self._index[value]]
        except (KeyError, TypeError):
            raise self._error(value, _short_list(self.choices)) from None

    def index(self, value: Any = None) -> int:
        """Position of ``value`` (default: the current value) in ``choices``."""
        return self._index[self._value if value is None else self.validate(value)]

    def sample(self, rng: random.Random) -> Any:
        return self.choices[rng.randrange(len(self.choices))]

    def size(self) -> float:
        return len(self.choices)


class Numeric(Param):
    """A number in [low, high]: float or integer, uniform or log-uniform."""

    def __init__(
        self,
        low: float,
        high: float,
        log: bool = False,
        integer: bool = False,
        default: Optional[float] = None,
        name: Optional[str] = None,
        on_update: Optional[Callable] = None,
    ) -> None:
        super().__init__(name, on_update)
        if not low <= high:
            raise ParamError(f"parameter {name!r}: low ({low}) must be <= high ({high})")
        if log and low <= 0:
            raise ParamError(f"parameter {name!r}: log scale needs low > 0, got {low}")
        self.low, self.high, self.log, self.integer = low, high, log, integer
        if default is None:
            default = math.sqrt(low * high) if log else (low + high) / 2
            default = round(default) if integer else default
        self.default = self.validate(default)
        self._value = self.default

    def validate(self, value: Any) -> Any:
        allowed = f"{'integers' if self.integer else 'numbers'} in [{self.low}, {self.high}]"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self._error(value, allowed)
        if self.integer:
            if value != int(value):
                raise self._error(value, allowed)
            value = int(value)
        else:
            value = float(value)
        if not self.low <= value <= self.high:
            raise self._error(value, allowed)
        return value

    def sample(self, rng: random.Random) -> Any:
        if self.log:
            x = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            x = rng.uniform(self.low, self.high)
        if self.integer:
            x = int(min(self.high, max(self.low, round(x))))
        return x

    def size(self) -> float:
        return int(self.high - self.low) + 1 if self.integer else math.inf


class TensorParam(Param):
    """A differentiable tensor (e.g. DARTS alphas); argmax along the last dim picks a choice."""

    def __init__(
        self,
        shape: Union[int, Sequence[int]],
        init: str = "normal",
        std: float = 1e-3,
        name: Optional[str] = None,
        on_update: Optional[Callable] = None,
    ) -> None:
        super().__init__(name, on_update)
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if init == "normal":
            data = torch.randn(self.shape) * std
        elif init == "zeros":
            data = torch.zeros(self.shape)
        else:
            raise ParamError(f"parameter {name!r}: unknown init {init!r}; allowed: normal, zeros")
        self._value = nn.Parameter(data)

    def _assign(self, value: torch.Tensor) -> torch.Tensor:
        old = self._value.detach().clone()
        with torch.no_grad():  # in place, so tensor optimizers keep their reference
            self._value.copy_(value)
        return old

    def same(self, value: Any) -> bool:
        return torch.equal(value, self._value.detach())

    def validate(self, value: Any) -> torch.Tensor:
        ref = self._value
        tensor = torch.as_tensor(value, dtype=ref.dtype).to(ref.device)
        if tuple(tensor.shape) != self.shape:
            raise self._error(f"<tensor of shape {tuple(tensor.shape)}>", f"tensors of shape {self.shape}")
        return tensor

    def sample(self, rng: random.Random) -> Any:
        raise ParamError(f"parameter {self.name!r}: a TensorParam is learned by gradients, not sampled")

    def size(self) -> float:
        choices = self.shape[-1] if self.shape else 1
        return float(choices) ** (math.prod(self.shape) // max(choices, 1))

    def to_plain(self) -> Any:
        return self._value.detach().cpu().tolist()


class ParamSpace:
    """The architecture parameters of one constructed model, with their own update events."""

    def __init__(self) -> None:
        self._params: Dict[str, Param] = {}
        self.events = EventBus()
        self.elastic: Any = None  # the groups elastic parameters switch (arch_space.elastic.ElasticSpace), if any

    # -- membership -------------------------------------------------------------------------
    def add(self, param: Param, name: Optional[str] = None) -> Param:
        """Add ``param`` (named ``name`` or its own name); names are unique within a space."""
        name = name or param.name
        if not name:
            raise ParamError("a parameter added to a space needs a name")
        if name in self._params:
            raise ParamError(f"parameter {name!r} already exists in this space")
        if param.space is not None and param.space is not self:
            raise ParamError(f"parameter {name!r} already belongs to another space")
        param.name, param.space = name, self
        self._params[name] = param
        for fn in param._pending:
            self.events.connect(fn, (param,))
        param._pending = []
        return param

    def get(self, name: str) -> Param:
        """The parameter called ``name``; unknown names raise ParamError listing known ones."""
        try:
            return self._params[name]
        except KeyError:
            names = self.names()
            raise ParamError(
                f"unknown parameter {name!r}{did_you_mean(name, names)}; allowed: {_short_list(names)}"
            ) from None

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __iter__(self) -> Iterator[Param]:
        return iter(self._params.values())

    def __len__(self) -> int:
        return len(self._params)

    def names(self) -> List[str]:
        """Parameter names in insertion order."""
        return list(self._params)

    def of_type(self, *kinds: Type[Param]) -> List[Param]:
        """Parameters that are instances of any of ``kinds``."""
        return [p for p in self._params.values() if isinstance(p, kinds)]

    def discrete(self) -> List[Param]:
        """Parameters an optimizer samples (Categorical and Numeric), not TensorParams."""
        return self.of_type(Categorical, Numeric)

    def tensors(self) -> List[nn.Parameter]:
        """The nn.Parameters of all TensorParams, for a tensor optimizer."""
        return [p.value for p in self.of_type(TensorParam)]

    # -- values -----------------------------------------------------------------------------
    def sample(self, rng: RngLike = None) -> Dict[str, Any]:
        """A random value for every Categorical and Numeric parameter (not applied)."""
        rng = as_rng(rng)
        return {p.name: p.sample(rng) for p in self.discrete()}

    def size(self) -> float:
        """Number of distinct discrete architectures (math.inf if any parameter is continuous)."""
        total = 1.0
        for p in self._params.values():
            total *= p.size()
        return int(total) if total < 2**63 else total

    def to_dict(self, tensors: bool = True) -> Dict[str, Any]:
        """Current values as plain data (YAML-safe); TensorParams as nested lists."""
        return {n: p.to_plain() for n, p in self._params.items() if tensors or not isinstance(p, TensorParam)}

    def load_dict(self, values: Mapping[str, Any]) -> None:
        """Set values from plain data (inverse of ``to_dict``), emitting update events."""
        self.update(values)

    def update(self, values: Mapping[str, Any]) -> None:
        """Validate every value first, then assign and emit one update event per changed value."""
        staged: List[Tuple[Param, Any]] = []
        for name, value in values.items():
            param = self._params.get(name) or self.get(name)
            value = param.validate(value)
            if not param.same(value):
                staged.append((param, value))
        if not staged:
            return
        changes = [(param, value, param._assign(value)) for param, value in staged]
        self.events.dispatch(changes)

    # -- handlers ---------------------------------------------------------------------------
    def on_update(
        self, *names: str, mode: str = "any", priority: int = 0
    ) -> Callable[[Callable], Callable]:
        """Decorator: call the function with the watched Params when any/all of them change."""

        def deco(fn: Callable) -> Callable:
            self.connect(fn, names, mode=mode, priority=priority)
            return fn

        return deco

    def connect(
        self, fn: Callable, names: Sequence[str], mode: str = "any", priority: int = 0
    ) -> Handler:
        """Attach handler ``fn(*params)`` to the watched parameter names (which must exist)."""
        return self.events.connect(fn, [self.get(name) for name in names], mode=mode, priority=priority)

    def __repr__(self) -> str:
        return f"ParamSpace({len(self)} params, size={self.size()})"
