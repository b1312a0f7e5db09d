"""Estimators that train networks from scratch: SubNetEstim (per candidate) and DefaultEstim."""
from __future__ import annotations

from typing import Any, Optional

from ..trials import Metrics
from .base import Estimator, register_estimator
from .trainer import reset_weights


@register_estimator("SubNetEstim")
class SubNetEstim(Estimator):
    """Each architecture: re-initialize the weights, train ``epochs``, evaluate on the validation split."""

    parallel = True

    def __init__(self, *args: Any, epochs: Optional[int] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.epochs = epochs

    def estimate(self) -> Metrics:
        reset_weights(self.model)
        train_loss = self.trainer.fit(self.model, self.data.train, self.epochs)
        val = self.trainer.evaluate(self.model, self.data.val)
        return {"val_acc": val["acc"], "val_loss": val["loss"], "train_loss": train_loss}


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
