"""Parameter-update events: per-space blinker signals and prioritized transform handlers."""
from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, Iterable, List, Sequence, Set, Tuple

import blinker

from .errors import HandlerError, ParamError

MODES = ("any", "all")


def _order(handler: "Handler") -> Tuple[int, int, bool, int]:
    return handler.order


class Handler:
    """A transform handler: a callable, the parameters it watches, and its trigger mode."""

    __slots__ = ("fn", "params", "watch", "mode", "priority", "order")

    def __init__(self, fn: Callable, params: Sequence[Any], mode: str, priority: int, seq: int):
        self.fn, self.params, self.mode, self.priority = fn, tuple(params), mode, priority
        self.watch: Tuple[str, ...] = tuple(p.name for p in self.params)
        # explicit priority, then more watched parameters, then 'all' before 'any', then age
        self.order = (-priority, -len(self.watch), mode != "all", seq)

    def triggered(self, fired: Set[str]) -> bool:
        """Whether the fired parameter names satisfy this handler's condition."""
        if self.mode == "all":
            return fired.issuperset(self.watch)
        return True  # 'any' (and single-parameter handlers): reached only when something fired

    def __repr__(self) -> str:
        return f"Handler({getattr(self.fn, '__qualname__', self.fn)!s}, watch={list(self.watch)}, mode={self.mode!r})"


class EventBus:
    """Update channels of one ParamSpace: a private blinker Namespace, never shared."""

    def __init__(self) -> None:
        self._signals = blinker.Namespace()
        self._handlers: List[Handler] = []
        self._seq = itertools.count()
        self._fired: List[Dict[Handler, Set[str]]] = []  # one frame per (possibly nested) batch

    def signal(self, name: str) -> blinker.NamedSignal:
        """The update signal of parameter ``name`` (sender: the Param; kwargs: value, old)."""
        return self._signals.signal(name)

    def connect(self, fn: Callable, params: Sequence[Any], mode: str = "any", priority: int = 0) -> Handler:
        """Attach ``fn(*params)`` to the update signals of the watched parameters."""
        if mode not in MODES:
            raise ParamError(f"unknown handler mode {mode!r}; allowed: {', '.join(MODES)}")
        if not params:
            raise ParamError("a handler must watch at least one parameter")
        handler = Handler(fn, params, mode, priority, next(self._seq))

        def receiver(param, **_kw) -> None:
            self._fired[-1].setdefault(handler, set()).add(param.name)

        for name in handler.watch:
            self.signal(name).connect(receiver, weak=False)
        self._handlers.append(handler)
        return handler

    @property
    def handlers(self) -> List[Handler]:
        """All handlers in the order they would run if all fired."""
        return sorted(self._handlers, key=_order)

    def dispatch(self, changes: Iterable[Tuple[Any, Any, Any]]) -> None:
        """Emit one update signal per (param, value, old) change, then run triggered handlers."""
        frame: Dict[Handler, Set[str]] = {}
        self._fired.append(frame)
        try:
            for param, value, old in changes:
                sig = self._signals.get(param.name)
                if sig is not None and sig.receivers:
                    sig.send(param, value=value, old=old)
        finally:
            self._fired.pop()
        if not frame:
            return
        ready = [h for h, fired in frame.items() if h.triggered(fired)]
        if len(ready) > 1:
            ready.sort(key=_order)
        for handler in ready:
            try:
                handler.fn(*handler.params)
            except HandlerError:
                raise
            except Exception as exc:
                fired = ", ".join(f"{p.name}={p.value!r}" for p in handler.params if p.name in frame[handler])
                fn_name = getattr(handler.fn, "__qualname__", repr(handler.fn))
                raise HandlerError(
                    f"handler {fn_name} failed on update of {fired}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
