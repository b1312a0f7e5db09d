"""Activation checkpointing of a mixed op: the activations of its candidates are recomputed in backward
instead of kept, with the same numbers as a plain forward (BatchNorm running statistics are updated once)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, List, Tuple

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextmanager
def frozen_bn_stats(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers of ``module`` normalize as usual but leave their running statistics unchanged."""
    saved: List[Tuple[nn.modules.batchnorm._BatchNorm, float, torch.Tensor]] = []
    for bn in module.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.training and bn.track_running_stats:
            saved.append((bn, bn.momentum, bn.num_batches_tracked.clone()))
            bn.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for bn, momentum, tracked in saved:
            bn.momentum = momentum
            bn.num_batches_tracked.copy_(tracked)


def checkpointed(fn: Callable[..., torch.Tensor], owner: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """``fn(*inputs)`` (computed by ``owner``'s modules) keeping only its inputs and output: the activations
    inside are recomputed in backward, with the random state preserved and BatchNorm statistics updated
    only by the first forward."""
    calls = [0]

    def run(*args: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if calls[0] == 1:
            return fn(*args)
        with frozen_bn_stats(owner):  # the recomputation in backward
            return fn(*args)

    return checkpoint(run, *inputs, use_reentrant=False, preserve_rng_state=True)
