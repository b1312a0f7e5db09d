"""Named component registries: a plain dict per kind, filled by decorators."""
from __future__ import annotations

import difflib
from typing import Callable, Dict, Iterator, List, TypeVar

from .errors import SlotnasError

T = TypeVar("T")


def did_you_mean(name: str, allowed: List[str]) -> str:
    """Return ' (did you mean X?)' when a close match exists, else ''."""
    name = str(name)
    prefixed = [a for a in allowed if a.startswith(name) or name.startswith(a)]
    close = prefixed or difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name_message(kind: str, name: str, allowed: List[str]) -> str:
    """One-line message for an unknown name: what was asked, what is allowed."""
    return f"unknown {kind} {name!r}{did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}"


class Registry:
    """A named collection of components of one kind (candidates, optimizers, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: Dict[str, Callable] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``; re-registering a name raises."""

        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise SlotnasError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> Callable:
        """The component registered as ``name``; unknown names raise a one-line error."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise SlotnasError(unknown_name_message(self.kind, name, self.names())) from None

    def names(self) -> List[str]:
        """Registered names in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def check_options(fn: Callable, label: str, options: Dict[str, object], skip: int = 0) -> None:
    """Raise a one-line error if ``options`` do not fit ``fn``'s keyword parameters.

    ``skip`` leading positional parameters are supplied by the caller (e.g. slots, space).
    """
    import inspect

    params = list(inspect.signature(fn).parameters.values())[skip:]
    named = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        for key in options:
            if key not in named:
                raise SlotnasError(
                    f"{label}: unknown option {key!r}{did_you_mean(key, named)}; allowed: {', '.join(named)}"
                )
    for p in params:
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in options:
            raise SlotnasError(f"{label}: missing option {p.name!r}")
