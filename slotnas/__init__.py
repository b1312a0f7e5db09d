"""slotnas: event-driven, slot-replacement neural architecture search for PyTorch."""
from .arch_space.candidates import build_candidate, register_candidate
from .arch_space.construct import construct, register_constructor
from .arch_space.slotify import SlotRule, slotify
from .errors import HandlerError, ParamError, SlotError, SlotnasError
from .params import Categorical, Numeric, ParamSpace, TensorParam
from .slot import Slot, find_slots, holds_slots

__version__ = "0.1.0"

__all__ = [
    "Slot", "find_slots", "holds_slots", "slotify", "SlotRule", "construct", "register_constructor",
    "Categorical", "Numeric", "TensorParam", "ParamSpace",
    "register_candidate", "build_candidate",
    "SlotnasError", "ParamError", "SlotError", "HandlerError",
]
