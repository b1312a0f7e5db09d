"""Estimators that train networks from scratch: SubNetEstim (per candidate) and DefaultEstim."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from ..trials import Metrics
from .base import Estimator, register_estimator
from .trainer import reset_weights


@register_estimator("SubNetEstim")
class SubNetEstim(Estimator):
    """Each architecture: re-initialize the weights, train ``epochs``, evaluate on the validation split.

    Its fidelity is the number of epochs: ``estimate_at(f, resume)`` trains up to epoch ``f`` of an
    ``epochs``-long learning-rate schedule, continuing a checkpoint instead of starting again.
    """

    parallel = True

    def __init__(self, *args: Any, epochs: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epochs = epochs

    @property
    def max_fidelity(self) -> int:
        return self.trainer.epochs if self.epochs is None else self.epochs

    def estimate(self) -> Metrics:
        return self.estimate_at(self.max_fidelity)[0]

    def estimate_at(self, fidelity: int, resume: Optional[Dict[str, Any]] = None) -> Tuple[Metrics, Dict[str, Any]]:
        if resume is None:
            reset_weights(self.model)
        train_loss, state = self.trainer.fit_until(self.model, self.data.train, fidelity, self.max_fidelity, resume)
        val = self.trainer.evaluate(self.model, self.data.val)
        return {"val_acc": val["acc"], "val_loss": val["loss"], "train_loss": train_loss}, state


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
