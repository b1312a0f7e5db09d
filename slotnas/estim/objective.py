"""Your own training code as the objective (Optuna's ``objective(trial)``): ``estim: {type: Objective, fn: ...}``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Mapping, Optional, Union

import torch
from torch import nn

from ..constraints import PositiveInt
from ..data import DataBundle
from ..trials import Arch, Metrics
from .base import Estimator, register_estimator
from .trainer import reset_weights


@dataclass
class TrialContext:
    """What a user objective receives for one architecture."""

    model: nn.Module  # the searched network with this trial's architecture applied, weights freshly initialized
    arch: Arch  # the architecture parameters' values
    data: DataBundle  # the config's data (loaders); an objective may ignore it and load its own
    device: torch.device  # trainer.device: where the objective should train
    estimator: "ObjectiveEstim" = field(repr=False)
    hparams: Dict[str, Any] = field(default_factory=dict)  # this trial's values of the config's hparams

    def report(self, step: int, metrics: Mapping[str, Any]) -> bool:
        """Record intermediate metrics after ``step`` (e.g. an epoch); True: a scheduler stops the trial now
        (return the current metrics then; the trial ends PRUNED)."""
        return self.estimator.report(step, metrics)


Objective = Callable[[TrialContext], Mapping[str, Any]]


@register_estimator("Objective")
class ObjectiveEstim(Estimator):
    """Each architecture goes to your function ``fn(trial) -> metrics`` (``module:function`` or
    ``path/file.py:function`` in YAML, a callable in Python): your data, training loop and metrics. The
    optimizer's objective must be one of the returned keys. ``steps``: how many steps ``fn`` reports
    (the maximum fidelity for a stopping scheduler such as ASHA)."""

    parallel = True
    fidelity_option = "steps"  # the option that gives a stopping scheduler its max fidelity

    def __init__(self, *args: Any, fn: Union[str, Objective], steps: Optional[PositiveInt] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from ..errors import SlotnasError
        from ..registry import import_attr

        self.fn = import_attr(fn, "estim.fn") if isinstance(fn, str) else fn
        if not callable(self.fn):
            raise SlotnasError(f"estim.fn: {fn!r} is a {type(self.fn).__name__}, not a function of the trial")
        self.steps = steps

    @property
    def max_fidelity(self) -> Optional[int]:
        return self.steps

    def estimate(self) -> Metrics:
        reset_weights(self.model)
        values = self.space.to_dict(tensors=False)
        hparams = {n: values.pop(n) for n in self.hparam_names if n in values}
        context = TrialContext(self.model, values, self.data, self.trainer.device, self, hparams)
        result = self.fn(context)
        if not isinstance(result, Mapping) or not all(isinstance(k, str) for k in result):
            raise TypeError(f"estim.fn {getattr(self.fn, '__name__', self.fn)!r} returned "
                            f"{type(result).__name__}; expected a dict of metrics such as {{'val_acc': 97.2}}")
        return dict(result)
