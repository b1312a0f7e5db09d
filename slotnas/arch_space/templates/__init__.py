"""Search-space templates from YAML: block-wise, cell-based and hierarchical (NeuraSearchLib style)."""
from __future__ import annotations

from typing import Any, Dict, Sequence

from torch import nn

from ...registry import Registry, check_component, component_options
from .block import block
from .cell import cell
from .hierarchical import hierarchical
from .spec import TEMPLATE_OPS, build_op, parse_op, register_template_op

TEMPLATES = Registry("template")
TEMPLATES.register("block")(block)
TEMPLATES.register("cell")(cell)
TEMPLATES.register("hierarchical")(hierarchical)


def build_template(spec: Dict[str, Any], input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """The model a validated ``template:`` section describes, for the data's input shape and classes."""
    options = component_options(spec)
    return TEMPLATES.get(spec["type"])(in_channels=input_shape[0], num_classes=num_classes, **options)


def check_template(spec: Any) -> Dict[str, Any]:
    """Validate the ``template:`` section's type and options (structure errors surface when built)."""
    from ...errors import blame

    fn, options = check_component(spec, TEMPLATES, "template", injected=("in_channels", "num_classes"))
    with blame(f"template ({spec['type']})"):
        fn(in_channels=3, num_classes=10, **options)  # structure errors now, before any data or training
    return dict(spec)


__all__ = ["TEMPLATES", "TEMPLATE_OPS", "build_template", "check_template", "build_op", "parse_op",
           "register_template_op"]
