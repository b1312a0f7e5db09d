"""Shared fixtures: a tiny CNN with hand-placed Slots."""
import pytest
import torch
from torch import nn

from slotnas import Slot


class TinyNet(nn.Module):
    """A small CNN whose three middle layers are Slots (one of them strided)."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.a = Slot(8, 8, 1)
        self.b = Slot(8, 16, 2)
        self.c = Slot(16, 16, 1)
        self.head = nn.Linear(16, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c(self.b(self.a(self.stem(x))))
        return self.head(x.mean((2, 3)))


@pytest.fixture
def tiny_net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet()
