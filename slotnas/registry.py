"""Named component registries: a plain dict per kind, filled by decorators."""
from __future__ import annotations

import collections.abc
import difflib
import inspect
import typing
from typing import Any, Callable, Dict, Iterable, Iterator, List, Sequence, Tuple, TypeVar, Union

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


def check_keys(where: str, keys: Iterable[Any], allowed: Sequence[str], kind: str = "key") -> None:
    """One-line error for the first of ``keys`` not in ``allowed``: '<where>: unknown key ...'."""
    for key in keys:
        if key not in allowed:
            raise SlotnasError(f"{where}: " + unknown_name_message(kind, key, list(allowed)))


def import_attr(spec: str, key: str) -> Any:
    """The object ``module:attr`` names, for the config keys whose docs allow it (model.type,
    run.callbacks, run.catch). The standard library is refused: nothing a config may name lives there,
    and naming it would let a config call ``os:system`` or import a module with effects."""
    import importlib
    import sys

    module, _, attr = spec.partition(":")
    top = module.split(".")[0]
    if top in getattr(sys, "stdlib_module_names", ()) or top in ("builtins", "__main__"):
        raise SlotnasError(f"{key}: {spec!r} names the Python standard library; allowed: module:attr of your own "
                           "or an installed package's module")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # ImportError, AttributeError, or whatever the module's own code raised
        raise SlotnasError(f"{key}: cannot import {spec!r} ({type(exc).__name__}: {exc})") from None
    return obj


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


def component_options(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The options of a ``{type: NAME, ...}`` config entry: everything but ``type``."""
    return {k: v for k, v in spec.items() if k != "type"}


def signature_options(fn: Callable) -> Tuple[Dict[str, inspect.Parameter], bool]:
    """Keyword options of a function or class, following ``**kwargs`` up the class hierarchy.

    Returns the named parameters and whether arbitrary extra keywords are still accepted.
    """
    targets = [c.__init__ for c in fn.__mro__ if "__init__" in vars(c)] if inspect.isclass(fn) else [fn]
    found: Dict[str, inspect.Parameter] = {}
    for target in targets:
        params = inspect.signature(target).parameters
        for name, p in params.items():
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and name != "self":
                found.setdefault(name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return found, False
    return found, True


def check_options(fn: Callable, label: str, options: Dict[str, Any], injected: Sequence[str] = ()) -> None:
    """Raise a one-line error if ``options`` do not fit ``fn``'s keyword parameters or their types.

    ``injected`` parameters are supplied by the caller (e.g. slots, space) and may not be set.
    """
    params, open_ended = signature_options(fn)
    allowed = [n for n in params if n not in injected]
    for key, value in options.items():
        if key not in allowed:
            if open_ended:
                continue
            raise SlotnasError(f"{label}: " + unknown_name_message("option", key, allowed))
        hint = _hint(fn, key)
        if hint is not None and not type_matches(value, hint):
            raise SlotnasError(f"{label}.{key}: expected {_hint_name(hint)}, got {type(value).__name__} {value!r}")
    for name in allowed:
        if params[name].default is inspect.Parameter.empty and name not in options:
            raise SlotnasError(f"{label}: missing option {name!r}")


def _hint(fn: Callable, name: str) -> Any:
    targets = [c.__init__ for c in fn.__mro__ if "__init__" in vars(c)] if inspect.isclass(fn) else [fn]
    for target in targets:
        try:
            hints = typing.get_type_hints(target)
        except Exception:
            return None
        if name in hints:
            return hints[name]
    return None


def type_matches(value: Any, hint: Any) -> bool:
    """Loose runtime check of a config value against a type hint (int, float, str, list, dict, Optional)."""
    origin = typing.get_origin(hint)
    if hint is Any or hint is None:
        return True
    if origin is Union:
        return any(type_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence) or hint in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin in (dict, collections.abc.Mapping) or hint is dict:
        return isinstance(value, dict)
    return True


def _hint_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Union:
        return " or ".join(_hint_name(h) for h in typing.get_args(hint))
    if origin is not None:
        return getattr(origin, "__name__", str(origin)).replace("Sequence", "list")
    return getattr(hint, "__name__", str(hint))
