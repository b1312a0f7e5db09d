"""Run callbacks: every run-level side effect hangs on these five hooks (all optional)."""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, List, Sequence

from ..errors import SlotnasError
from ..registry import import_attr

if TYPE_CHECKING:  # the runtime imports callbacks, never the reverse at run time
    from ..runtime.context import Run, SearchResult
    from ..trials import Trial


class Callback:
    """Hooks called in this order: ``on_search_start`` once; ``on_trial_complete`` for each finished
    trial (``on_epoch_end`` instead for each epoch of a one-shot run; ``on_trial_report`` for each
    rung result of a multi-fidelity trial that goes on); ``on_search_end`` once with the result.
    A callback that raises stops the run (it is code, not an architecture)."""

    def on_search_start(self, run: "Run") -> None:
        """The run is built and its stored trials are replayed; nothing new evaluated yet."""

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        """A trial ended (COMPLETE, FAILED or PRUNED) and is in the store."""

    def on_epoch_end(self, run: "Run", trial: "Trial") -> None:
        """A one-shot epoch ended; ``trial`` is its record (discretized architecture, alphas)."""

    def on_trial_report(self, run: "Run", trial: "Trial") -> None:
        """A multi-fidelity trial paused at a rung (RUNNING, with the rung's fidelity and metrics)."""

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        """The search is over; ``result`` holds the trials and the winner."""


class CallbackList(Callback):
    """Calls each callback's hook in list order."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks: List[Callback] = list(callbacks)

    def on_search_start(self, run: "Run") -> None:
        for cb in self.callbacks:
            cb.on_search_start(run)

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        for cb in self.callbacks:
            cb.on_trial_complete(run, trial)

    def on_epoch_end(self, run: "Run", trial: "Trial") -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(run, trial)

    def on_trial_report(self, run: "Run", trial: "Trial") -> None:
        for cb in self.callbacks:
            cb.on_trial_report(run, trial)

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        for cb in self.callbacks:
            cb.on_search_end(run, result)


def resolve_callback(spec: Any, key: str = "run.callbacks") -> Any:
    """What ``module:attr`` names (checked: a Callback subclass, instance or a factory), not instantiated."""
    if isinstance(spec, Callback):
        return spec
    if not isinstance(spec, str) or ":" not in spec:
        raise SlotnasError(f"{key}: expected 'module:attr' naming a Callback, got {spec!r}")
    obj = import_attr(spec, key)
    if isinstance(obj, Callback) or isinstance(obj, type) and issubclass(obj, Callback):
        return obj
    if inspect.isfunction(obj):
        return obj  # a factory written in Python; what it returns is checked when the run starts
    raise SlotnasError(f"{key}: {spec!r} is not a slotnas.Callback (subclass, instance or factory function)")


def load_callback(spec: Any, key: str = "run.callbacks") -> Callback:
    """A Callback from ``module:attr`` (a Callback subclass, instance or zero-argument factory)."""
    obj = resolve_callback(spec, key)
    if not isinstance(obj, Callback):
        try:
            obj = obj()
        except TypeError as exc:  # a factory that needs arguments
            raise SlotnasError(f"{key}: {spec!r} cannot be called without arguments ({exc})") from None
    if not isinstance(obj, Callback):
        raise SlotnasError(f"{key}: {spec!r} made a {type(obj).__name__}, not a slotnas.Callback")
    return obj
