"""Search-space building: slotify, candidates, mixed ops, constructors."""
from .candidates import CANDIDATES, build_candidate, candidate_names, register_candidate
from . import published  # noqa: F401,E402  (registers DARTS's and NAS-Bench-201's operations as candidates)
from .construct import CONSTRUCTORS, construct, register_constructor
from .mixed_ops import MIXED_OPS, BinaryGate, GumbelSum, Index, MixedOp, WeightedSum
from .slotify import SlotRule, slotify

__all__ = [
    "CANDIDATES", "build_candidate", "candidate_names", "register_candidate",
    "CONSTRUCTORS", "construct", "register_constructor",
    "MIXED_OPS", "MixedOp", "WeightedSum", "GumbelSum", "BinaryGate", "Index",
    "SlotRule", "slotify",
]
