"""Cheaper views of training data for multi-fidelity search: part of each epoch, or a lower resolution."""
from __future__ import annotations

import math
from typing import Iterable, Iterator, Tuple

import torch
import torch.nn.functional as F

Batch = Tuple[torch.Tensor, torch.Tensor]

FIDELITIES = ("epochs", "data", "resolution")  # SubNetEstim's fidelity units: epochs, percent, pixels


class FirstBatches:
    """The first ``percent`` % of each pass's batches (rounded up); with shuffled data every epoch sees
    a different subset. Needs ``len(batches)``."""

    def __init__(self, batches: Iterable[Batch], percent: int) -> None:
        self.batches, self.count = batches, max(1, math.ceil(len(batches) * percent / 100))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Batch]:
        for i, batch in enumerate(self.batches):
            if i >= self.count:
                break
            yield batch

    def __len__(self) -> int:
        return self.count


class Resized:
    """Every batch's images resized to ``size`` x ``size`` pixels (bilinear, antialiased when shrinking)."""

    def __init__(self, batches: Iterable[Batch], size: int) -> None:
        self.batches, self.size = batches, size

    def __iter__(self) -> Iterator[Batch]:
        for x, y in self.batches:
            if x.shape[-2:] != (self.size, self.size):
                x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                                  antialias=self.size < x.shape[-1])
            yield x, y

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]
