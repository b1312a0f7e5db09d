"""One-shot estimators: a supernet trained once in ``prepare``, sub-networks evaluated with its weights after
BN recalibration. SPOSEstim samples one path per batch."""
from __future__ import annotations

import random
from typing import Any, Dict, Optional

from torch import nn

from ..constraints import NonNegativeInt, PositiveInt
from ..params import Categorical
from ..trials import Metrics
from .base import Estimator, register_estimator


class SharedWeightsEstim(Estimator):
    """Base of one-shot estimators: workers get the trained weights; each architecture is scored on the
    validation split after its BatchNorm statistics are recomputed on ``bn_batches`` training batches."""

    def __init__(self, *args: Any, bn_batches: NonNegativeInt = 5, seed: NonNegativeInt = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bn_batches = bn_batches
        self.rng = random.Random(seed)

    def shared_state(self) -> Optional[Dict[str, Any]]:
        """The trained supernet's weights, for workers that evaluate subnets."""
        return {k: v.detach().cpu() for k, v in self.model.state_dict().items()}

    def load_shared_state(self, state: Dict[str, Any]) -> None:
        self.model.load_state_dict(state)

    def estimate(self) -> Metrics:
        self.trainer.recalibrate_bn(self.model, self.data.train, self.bn_batches)
        val = self.trainer.evaluate(self.model, self.data.val)
        return {"val_acc": val["acc"], "val_loss": val["loss"]}


@register_estimator("SPOSEstim")
class SPOSEstim(SharedWeightsEstim):
    """Train the supernet with a uniformly sampled path per batch; evaluate subnets with shared weights."""

    def __init__(self, *args: Any, supernet_epochs: PositiveInt = 10, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.supernet_epochs = supernet_epochs

    def _all_weights(self) -> list:
        """Weights of every candidate: each choice is visited once so lazily built ones exist."""
        found: Dict[int, nn.Parameter] = {id(p): p for p in self.model.parameters()}
        for param in self.space.of_type(Categorical):
            current = param.value
            for choice in param.choices:
                self.space.update({param.name: choice})
                found.update((id(p), p) for p in self.model.parameters())
            self.space.update({param.name: current})
        return list(found.values())

    def prepare(self) -> None:
        weights = self._all_weights()
        sample = lambda: self.space.update(self.space.sample(self.rng))  # noqa: E731
        self.trainer.fit(self.model, self.data.train, self.supernet_epochs, params=weights, before_batch=sample)

    def load_shared_state(self, state: Dict[str, Any]) -> None:
        self._all_weights()  # build every lazy candidate so each key has its module
        super().load_shared_state(state)
