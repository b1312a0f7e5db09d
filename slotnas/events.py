"""Parameter-update events: per-space blinker signals and prioritized transform handlers."""
from __future__ import annotations

import itertools
from typing import Callable, Dict, Iterable, List, Sequence, Set, Tuple

import blinker

from .errors import HandlerError, ParamError

MODES = ("any", "all")


class Handler:
    """A transform handler: a callable, the parameter names it watches, and its trigger mode."""

    __slots__ = ("fn", "watch", "mode", "priority", "seq")

    def __init__(self, fn: Callable, watch: Tuple[str, ...], mode: str, priority: int, seq: int):
        self.fn, self.watch, self.mode, self.priority, self.seq = fn, watch, mode, priority, seq

    @property
    def order(self) -> Tuple[int, int, bool, int]:
        """Sort key: explicit priority, more watched parameters, 'all' before 'any', registration."""
        return (-self.priority, -len(self.watch), self.mode != "all", self.seq)

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

    def connect(
        self, fn: Callable, watch: Sequence[str], mode: str = "any", priority: int = 0
    ) -> Handler:
        """Attach ``fn`` to the update signals of the watched parameters."""
        if mode not in MODES:
            raise ParamError(f"unknown handler mode {mode!r}; allowed: {', '.join(MODES)}")
        if not watch:
            raise ParamError("a handler must watch at least one parameter")
        handler = Handler(fn, tuple(watch), mode, priority, next(self._seq))

        def receiver(param, **_kw) -> None:
            self._fired[-1].setdefault(handler, set()).add(param.name)

        for name in handler.watch:
            self.signal(name).connect(receiver, weak=False)
        self._handlers.append(handler)
        return handler

    @property
    def handlers(self) -> List[Handler]:
        """All handlers in the order they would run if all fired."""
        return sorted(self._handlers, key=lambda h: h.order)

    def dispatch(self, changes: Iterable[Tuple[object, object, object]], lookup: Callable) -> None:
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
        ready.sort(key=lambda h: h.order)
        for handler in ready:
            args = [lookup(name) for name in handler.watch]
            try:
                handler.fn(*args)
            except HandlerError:
                raise
            except Exception as exc:
                fired = ", ".join(f"{n}={lookup(n).value!r}" for n in sorted(frame[handler]))
                fn_name = getattr(handler.fn, "__qualname__", repr(handler.fn))
                raise HandlerError(
                    f"handler {fn_name} failed on update of {fired}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
