"""Named component registries: a plain dict per kind, filled by decorators."""
from __future__ import annotations

import collections.abc
import difflib
import inspect
import typing
from typing import Any, Callable, Dict, Iterable, Iterator, List, Literal, Mapping, Sequence, Tuple, TypeVar, Union

from .constraints import Annotated, Length, Range, finite
from .errors import SlotnasError

CONSTRAINTS = (Range, Length)

T = TypeVar("T")


def did_you_mean(name: str, allowed: List[str]) -> str:
    """Return ' (did you mean X?)' when a close match exists, else ''."""
    def norm(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    name = str(name)
    same = [a for a in allowed if norm(a) == norm(name)]  # SlotCNN -> slot_cnn
    prefixed = [a for a in allowed if a.startswith(name) or name.startswith(a)]
    close = same or prefixed or difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages that quote what the user gave."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def unknown_name_message(kind: str, name: str, allowed: List[str]) -> str:
    """One-line message for an unknown name: what was asked, what is allowed."""
    return f"unknown {kind} {shown(name)}{did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}"


def check_keys(where: str, keys: Iterable[Any], allowed: Sequence[str], kind: str = "key") -> None:
    """One-line error for the first of ``keys`` not in ``allowed``: '<where>: unknown key ...'."""
    for key in keys:
        if key not in allowed:
            raise SlotnasError(f"{where}: " + unknown_name_message(kind, key, list(allowed)))


def import_attr(spec: str, key: str) -> Any:
    """The object ``module:attr`` (or ``path/file.py:attr``) names, for the config keys whose docs allow it
    (model.type, run.callbacks, run.catch). The standard library is refused: nothing a config may name
    lives there, and naming it would let a config call ``os:system`` or import a module with effects."""
    from .plugins import import_module

    module, _, attr = spec.rpartition(":")
    obj: Any = import_module(module, key, spec)
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise SlotnasError(f"{key}: cannot import {spec!r} (AttributeError: {exc})") from None
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


def check_component(spec: Any, registry: "Registry", where: str, injected: Sequence[str] = ()
                    ) -> Tuple[Callable, Dict[str, Any]]:
    """The component a ``{type: NAME, **options}`` entry names and its options, checked against its signature;
    one-line errors start with ``where``."""
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise SlotnasError(f"{where}: needs 'type'; allowed: {', '.join(registry)}")
    try:
        fn = registry.get(spec["type"])
    except SlotnasError as exc:
        raise SlotnasError(f"{where}: {exc}") from None
    options = component_options(dict(spec))
    check_options(fn, where, options, injected=injected)
    return fn, options


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
        check_value(f"{label}.{key}", value, _hint(fn, key))
    for name in allowed:
        if params[name].default is inspect.Parameter.empty and name not in options:
            raise SlotnasError(f"{label}: missing option {name!r}")


def describe_options(fn: Callable, injected: Sequence[str] = ()) -> List[str]:
    """One line per keyword option of ``fn``: name, what it takes and its default (``slotnas list -v``)."""
    lines = []
    for name, param in signature_options(fn)[0].items():
        if name in injected:
            continue
        hint = _hint(fn, name)
        taken = describe_hint(hint) if hint is not None else "any"
        default = "required" if param.default is inspect.Parameter.empty else f"default {param.default!r}"
        lines.append(f"{name}: {taken}; {default}")
    return lines


def check_value(key_path: str, value: Any, hint: Any) -> None:
    """Raise a one-line error naming ``key_path``, the value and what is allowed if ``value`` does not fit ``hint``."""
    if hint is not None and not type_matches(value, hint):
        raise SlotnasError(f"{key_path}: expected {describe_hint(hint)}, got {type(value).__name__} {shown(value)}")


def _hint(fn: Callable, name: str) -> Any:
    targets = [c.__init__ for c in fn.__mro__ if "__init__" in vars(c)] if inspect.isclass(fn) else [fn]
    for target in targets:
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception:
            return None
        if name in hints:
            return hints[name]
    return None


def type_matches(value: Any, hint: Any) -> bool:
    """Runtime check of a config value against a type hint: int, float (finite), str, bool, Optional,
    Union, Literal, lists and tuples (each item), dicts, and ``Annotated`` ranges (slotnas.constraints)."""
    origin = typing.get_origin(hint)
    if hint is Any or hint is None:
        return True
    if origin is Annotated:
        base, *extras = typing.get_args(hint)
        return type_matches(value, base) and all(c.holds(value) for c in extras if isinstance(c, CONSTRAINTS))
    if origin is Literal:
        return any(value == v and type(value) is type(v) for v in typing.get_args(hint))
    if origin is Union:
        return any(type_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and finite(value)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        items = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if origin is tuple and len(items) > 1 and Ellipsis not in typing.get_args(hint):
            return len(value) == len(items) and all(type_matches(v, h) for v, h in zip(value, items))
        return not items or all(type_matches(v, items[0]) for v in value)
    if origin in (dict, collections.abc.Mapping) or hint is dict:
        return isinstance(value, dict)
    return True


def describe_hint(hint: Any) -> str:
    """A type hint in words, as a config user reads it: 'int >= 1', 'a list of str', "one of 'a', 'b'"."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *extras = typing.get_args(hint)
        ranges = [c.describe() for c in extras if isinstance(c, CONSTRAINTS)]
        return " ".join([describe_hint(base)] + ranges)
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(hint))
    if origin is Union:
        return " or ".join(describe_hint(h) for h in typing.get_args(hint))
    if origin in (list, tuple, collections.abc.Sequence) and typing.get_args(hint):
        items = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return f"a list of {describe_hint(items[0])}" if len(items) == 1 or Ellipsis in typing.get_args(hint) \
            else f"[{', '.join(describe_hint(h) for h in items)}]"
    if hint is type(None):
        return "null"
    if origin is not None:
        return getattr(origin, "__name__", str(origin)).replace("Sequence", "list")
    return getattr(hint, "__name__", str(hint))
