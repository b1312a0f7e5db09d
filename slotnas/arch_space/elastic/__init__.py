"""Elastic networks (network morphism): width, depth and kernel of an unmodified model switched by
parameter handlers; ``fix`` exports the narrow plain network."""
from .groups import DepthGroup, ElasticSpace, KernelGroup, WidthGroup
from .layers import ElasticBatchNorm2d, ElasticConv2d, ElasticLinear, make_elastic, make_skippable
from .rules import ELASTIC_RULES, apply_elastic, check_rule

__all__ = ["DepthGroup", "ElasticSpace", "KernelGroup", "WidthGroup", "ElasticBatchNorm2d", "ElasticConv2d",
           "ElasticLinear", "make_elastic", "make_skippable", "ELASTIC_RULES", "apply_elastic", "check_rule"]
