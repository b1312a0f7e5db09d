"""slotnas: event-driven, slot-replacement neural architecture search for PyTorch."""
from .errors import HandlerError, ParamError, SlotError, SlotnasError

__version__ = "0.1.0"

_LAZY = {  # imported on first use, so `import slotnas` (and the CLI's start, Ctrl-C included) stays light
    "build_candidate": "slotnas.arch_space.candidates", "register_candidate": "slotnas.arch_space.candidates",
    "construct": "slotnas.arch_space.construct", "register_constructor": "slotnas.arch_space.construct",
    "SlotRule": "slotnas.arch_space.slotify", "slotify": "slotnas.arch_space.slotify",
    "Categorical": "slotnas.params", "Numeric": "slotnas.params", "ParamSpace": "slotnas.params",
    "TensorParam": "slotnas.params",
    "Slot": "slotnas.slot", "find_slots": "slotnas.slot", "holds_slots": "slotnas.slot",
    "search": "slotnas.runtime", "resume": "slotnas.runtime", "SearchResult": "slotnas.runtime",
    "Callback": "slotnas.callbacks", "Trial": "slotnas.trials", "TrialState": "slotnas.trials",
    "TrialStore": "slotnas.store",
}


def __getattr__(name: str):  # noqa: ANN201 - module-level lazy attributes (PEP 562)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'slotnas' has no attribute {name!r}")


__all__ = [
    "Slot", "find_slots", "holds_slots", "slotify", "SlotRule", "construct", "register_constructor",
    "Categorical", "Numeric", "TensorParam", "ParamSpace",
    "register_candidate", "build_candidate",
    "SlotnasError", "ParamError", "SlotError", "HandlerError",
    "search", "resume", "SearchResult", "Callback", "Trial", "TrialState", "TrialStore",
]
