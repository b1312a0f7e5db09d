"""Models: registered slotnas backbones, torchvision models (``torchvision:NAME``), or ``module:Class``."""
from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from torch import nn

from ..constraints import PositiveInt
from ..errors import SlotnasError, blame
from ..registry import Registry, import_attr
from ..slot import Slot

MODELS = Registry("model")


def register_model(name: str) -> Callable:
    """Decorator registering ``fn(**options) -> nn.Module`` as model ``name``."""
    return MODELS.register(name)


@register_model("slot_cnn")
class SlotCNN(nn.Module):
    """A small CNN: conv stem, a chain of Slots given as [channels, stride] pairs, pooled linear head."""

    def __init__(self, in_channels: PositiveInt = 3, num_classes: PositiveInt = 10, stem: PositiveInt = 16,
                 layout: Sequence[Tuple[PositiveInt, PositiveInt]] = ((16, 1), (32, 2), (32, 1), (64, 2))) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem),
                                  nn.ReLU(inplace=True))
        cells: List[nn.Module] = []
        c_in = stem
        for c_out, stride in layout:
            cells.append(Slot(c_in, c_out, stride))
            c_in = c_out
        self.cells = nn.Sequential(*cells)
        self.head = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.cells(self.stem(x)).mean((2, 3)))


def _accepts(fn: Callable, name: str, via_kwargs: bool = True) -> bool:
    params = inspect.signature(fn).parameters
    return name in params or (via_kwargs and any(p.kind is p.VAR_KEYWORD for p in params.values()))


def resolve_model(type_name: str) -> Callable[..., nn.Module]:
    """The builder for a model spec's ``type``: registered name, ``torchvision:NAME`` or ``module:Class``."""
    if type_name.startswith("torchvision:"):
        import torchvision

        name = type_name.split(":", 1)[1]
        available = torchvision.models.list_models()
        if name not in available:
            from ..registry import unknown_name_message

            raise SlotnasError("model.type: " + unknown_name_message("torchvision model", name, available))
        return lambda **kw: torchvision.models.get_model(name, weights=None, **kw)
    if ":" in type_name:
        cls = import_attr(type_name, "model.type")
        if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
            raise SlotnasError(f"model.type: {type_name!r} is a {type(cls).__name__}, not an nn.Module subclass; "
                               "allowed: a registered model, torchvision:NAME, or module:Class of an nn.Module "
                               "subclass (register a factory with slotnas.arch_space.backbones.register_model)")
        return cls
    try:
        return MODELS.get(type_name)
    except SlotnasError as exc:
        raise SlotnasError(f"model.type: {exc}") from None


def build_model(spec: Dict[str, Any], input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """Instantiate the model, passing ``in_channels`` / ``num_classes`` from the data when accepted."""
    options = dict(spec)
    builder = resolve_model(options.pop("type"))
    target = builder.__init__ if inspect.isclass(builder) else builder
    if "num_classes" not in options and _accepts(target, "num_classes"):
        options["num_classes"] = num_classes
    if "in_channels" not in options and _accepts(target, "in_channels", via_kwargs=False):
        options["in_channels"] = input_shape[0]
    with blame(f"model ({spec['type']})"):
        return builder(**options)
