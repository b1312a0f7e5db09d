"""Estimators that train networks from scratch: SubNetEstim (per candidate) and DefaultEstim."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from ..constraints import PositiveInt
from ..errors import SlotnasError
from ..trials import Metrics
from .base import Estimator, register_estimator
from .fidelities import FIDELITIES, FirstBatches, Resized
from .trainer import reset_weights


@register_estimator("SubNetEstim")
class SubNetEstim(Estimator):
    """Each architecture: re-initialize the weights, train ``epochs``, evaluate on the validation split.

    Its ``fidelity`` for multi-fidelity schedulers: ``epochs`` (default; ``estimate_at(f, resume)``
    trains up to epoch ``f`` of an ``epochs``-long learning-rate schedule, continuing a checkpoint
    instead of starting again), ``data`` (percent of each epoch's training batches, 1-100) or
    ``resolution`` (input side in pixels, up to the data's). The last two train every rung from
    scratch for all epochs, the first batches of each epoch or resized inputs (validation too).
    """

    parallel = True

    def __init__(self, *args: Any, epochs: Optional[PositiveInt] = None, fidelity: str = "epochs", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if fidelity not in FIDELITIES:
            raise SlotnasError(f"estim.fidelity: {fidelity!r} not allowed; allowed: {', '.join(FIDELITIES)}")
        self.epochs, self.fidelity = epochs, fidelity

    @property
    def fidelity_continues(self) -> bool:
        """Whether a higher rung continues the lower one's training (epochs) or starts again."""
        return self.fidelity == "epochs"

    @property
    def max_fidelity(self) -> int:
        if self.fidelity == "data":
            return 100
        if self.fidelity == "resolution":
            return int(self.data.input_shape[-1])
        return self.total_epochs

    @property
    def total_epochs(self) -> int:
        """Epochs of a full evaluation."""
        return self.trainer.epochs if self.epochs is None else self.epochs

    def estimate(self) -> Metrics:
        return self.estimate_at(self.max_fidelity)[0]

    def estimate_at(self, fidelity: int, resume: Optional[Dict[str, Any]] = None
                    ) -> Tuple[Metrics, Optional[Dict[str, Any]]]:
        train, val = self.data.train, self.data.val
        if self.fidelity == "epochs":
            if resume is None:
                reset_weights(self.model)
            train_loss, state = self.trainer.fit_until(self.model, train, fidelity, self.total_epochs, resume)
        else:
            if fidelity < self.max_fidelity:
                train, val = (FirstBatches(train, fidelity), val) if self.fidelity == "data" else \
                    (Resized(train, fidelity), Resized(val, fidelity))
            reset_weights(self.model)
            train_loss, state = self.trainer.fit_until(self.model, train, self.total_epochs, self.total_epochs)[0], None
        scores = self.trainer.evaluate(self.model, val)
        return {"val_acc": scores["acc"], "val_loss": scores["loss"], "train_loss": train_loss}, state


@register_estimator("DefaultEstim")
class DefaultEstim(SubNetEstim):
    """Train and evaluate the one current architecture (validation and test); used to retrain winners."""

    parallel = False
    default_only = True

    def estimate(self) -> Metrics:
        metrics = super().estimate()
        if self.data.test is not None:
            test = self.trainer.evaluate(self.model, self.data.test)
            metrics.update(test_acc=test["acc"], test_loss=test["loss"])
        return metrics
