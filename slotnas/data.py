"""Datasets: digits (scikit-learn, no download), CIFAR from a local folder, image folders, FakeData."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch

from .constraints import Fraction, NonNegativeInt, PositiveInt
from .errors import SlotnasError, blame
from .registry import Registry

DATASETS = Registry("dataset")

Batch = Tuple[torch.Tensor, torch.Tensor]


def register_dataset(name: str) -> Callable:
    """Decorator registering ``fn(**options) -> DataBundle`` as dataset ``name``."""
    return DATASETS.register(name)


@dataclass
class DataBundle:
    """Train / validation / test batches plus what a model needs to know about the input."""

    train: Iterable[Batch]
    val: Iterable[Batch]
    test: Optional[Iterable[Batch]]
    input_shape: Tuple[int, int, int]
    num_classes: int

    def set_batch_size(self, batch_size: int) -> None:
        """Batches of ``batch_size`` from now on (a searched ``data.batch_size``); same data, order and seeds."""
        self.train, self.val = _rebatched(self.train, batch_size), _rebatched(self.val, batch_size)
        self.test = None if self.test is None else _rebatched(self.test, batch_size)


def _rebatched(batches: Iterable[Batch], batch_size: int) -> Iterable[Batch]:
    if isinstance(batches, TensorBatches):
        batches.batch_size = batch_size
        return batches
    if isinstance(batches, torch.utils.data.DataLoader):
        if batches.batch_size == batch_size:
            return batches
        return torch.utils.data.DataLoader(
            batches.dataset, batch_size=batch_size, shuffle=isinstance(batches.sampler, torch.utils.data.RandomSampler),
            num_workers=batches.num_workers, generator=batches.generator)
    raise SlotnasError(f"hparams.data.batch_size: the data's batches ({type(batches).__name__}) cannot be re-batched; "
                       "allowed: in-memory data sets and DataLoaders")


class TensorBatches:
    """Mini-batches of in-memory tensors; reshuffled each pass with its own seeded generator.

    For data that fits in memory this is far cheaper than DataLoader's per-sample indexing.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = False, seed: int = 0):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                yield self.x[idx], self.y[idx]

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size


def shuffle_generators(data: DataBundle) -> List[torch.Generator]:
    """The torch generators that order the splits' batches (their state is part of a run's randomness)."""
    splits = (data.train, data.val, data.test)
    return [g for g in (getattr(split, "generator", None) for split in splits) if isinstance(g, torch.Generator)]


def _stratified_split(y: Sequence[int], fractions: Sequence[float], seed: int) -> List[List[int]]:
    """Indices split into len(fractions)+1 parts (the rest first), stratified by label."""
    from sklearn.model_selection import train_test_split

    indices = list(range(len(y)))
    parts: List[List[int]] = []
    rest, rest_y = indices, list(y)
    remaining = 1.0
    for frac in fractions:
        rest, part, rest_y, _ = train_test_split(rest, rest_y, test_size=frac / remaining, stratify=rest_y,
                                                 random_state=seed)
        parts.append(part)
        remaining -= frac
    return [rest] + parts


@register_dataset("digits")
def digits(batch_size: PositiveInt = 64, val_fraction: Fraction = 0.2, test_fraction: Fraction = 0.2,
           image_size: PositiveInt = 8, channels: PositiveInt = 1, seed: NonNegativeInt = 0) -> DataBundle:
    """scikit-learn's 8x8 handwritten digits (1797 images, ships with scikit-learn), stratified split."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = (x - x.mean()) / x.std()
    if image_size != 8:
        x = torch.nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    if channels != 1:
        x = x.repeat(1, channels, 1, 1)
    y = torch.tensor(raw.target, dtype=torch.long)
    train_idx, val_idx, test_idx = _stratified_split(raw.target.tolist(), [val_fraction, test_fraction], seed)
    part = lambda idx, shuffle: TensorBatches(x[idx], y[idx], batch_size, shuffle, seed)  # noqa: E731
    return DataBundle(part(train_idx, True), part(val_idx, False), part(test_idx, False),
                      (channels, image_size, image_size), 10)


def _loader(dataset: Any, batch_size: int, shuffle: bool, num_workers: int, seed: int) -> Iterable[Batch]:
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                                       generator=torch.Generator().manual_seed(seed))


def _split_train(dataset: Any, val_fraction: float, seed: int) -> Tuple[Any, Any]:
    n_val = int(round(len(dataset) * val_fraction))
    return torch.utils.data.random_split(dataset, [len(dataset) - n_val, n_val],
                                         generator=torch.Generator().manual_seed(seed))


def _cifar(cls_name: str, folder: str, root: str, batch_size: int, val_fraction: float, augment: bool,
           num_workers: int, seed: int) -> DataBundle:
    import torchvision
    from torchvision import transforms as T

    if not os.path.isdir(os.path.join(root, folder)):
        raise SlotnasError(
            f"data.root: no {folder!r} folder in {root!r}; extract the python version of the data set "
            f"there ({root}/{folder}/...); slotnas never downloads"
        )
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    plain = [T.ToTensor(), T.Normalize(mean, std)]
    train_tf = T.Compose(([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if augment else []) + plain)
    cls = getattr(torchvision.datasets, cls_name)
    train_set = cls(root, train=True, download=False, transform=train_tf)
    test_set = cls(root, train=False, download=False, transform=T.Compose(plain))
    train_part, val_part = _split_train(train_set, val_fraction, seed)
    return DataBundle(_loader(train_part, batch_size, True, num_workers, seed),
                      _loader(val_part, batch_size, False, num_workers, seed),
                      _loader(test_set, batch_size, False, num_workers, seed),
                      (3, 32, 32), len(train_set.classes))


@register_dataset("cifar10")
def cifar10(root: str, batch_size: PositiveInt = 128, val_fraction: Fraction = 0.1, augment: bool = True,
            num_workers: NonNegativeInt = 0, seed: NonNegativeInt = 0) -> DataBundle:
    """CIFAR-10 from ``root/cifar-10-batches-py`` (never downloaded); val split from the train set."""
    return _cifar("CIFAR10", "cifar-10-batches-py", root, batch_size, val_fraction, augment, num_workers, seed)


@register_dataset("cifar100")
def cifar100(root: str, batch_size: PositiveInt = 128, val_fraction: Fraction = 0.1, augment: bool = True,
             num_workers: NonNegativeInt = 0, seed: NonNegativeInt = 0) -> DataBundle:
    """CIFAR-100 from ``root/cifar-100-python`` (never downloaded); val split from the train set."""
    return _cifar("CIFAR100", "cifar-100-python", root, batch_size, val_fraction, augment, num_workers, seed)


@register_dataset("image_folder")
def image_folder(root: str, image_size: PositiveInt = 32, batch_size: PositiveInt = 64, val_fraction: Fraction = 0.1,
                 num_workers: NonNegativeInt = 0, seed: NonNegativeInt = 0) -> DataBundle:
    """``root/train/<class>/*.png`` (+ optional ``root/val`` and ``root/test``) via torchvision ImageFolder."""
    import torchvision
    from torchvision import transforms as T

    if not os.path.isdir(os.path.join(root, "train")):
        raise SlotnasError(f"data.root: no 'train' folder in {root!r}; expected {root}/train/<class>/<image>")
    tf = T.Compose([T.Resize((image_size, image_size)), T.ToTensor()])
    train_set = torchvision.datasets.ImageFolder(os.path.join(root, "train"), transform=tf)
    split = lambda name: (torchvision.datasets.ImageFolder(os.path.join(root, name), transform=tf)  # noqa: E731
                          if os.path.isdir(os.path.join(root, name)) else None)
    val_set, test_set = split("val"), split("test")
    if val_set is None:
        train_set, val_set = _split_train(train_set, val_fraction, seed)
    channels = int(train_set[0][0].shape[0])
    classes = len(torchvision.datasets.ImageFolder(os.path.join(root, "train")).classes)
    return DataBundle(_loader(train_set, batch_size, True, num_workers, seed),
                      _loader(val_set, batch_size, False, num_workers, seed),
                      _loader(test_set, batch_size, False, num_workers, seed) if test_set else None,
                      (channels, image_size, image_size), classes)


@register_dataset("fake")
def fake(size: PositiveInt = 256, image_size: PositiveInt = 32, channels: PositiveInt = 3, num_classes: PositiveInt = 10,
         batch_size: PositiveInt = 32, seed: NonNegativeInt = 0) -> DataBundle:
    """torchvision FakeData: random images, for smoke tests and latency-only searches."""
    import torchvision
    from torchvision import transforms as T

    def make(n: int, offset: int) -> Any:
        return torchvision.datasets.FakeData(n, (channels, image_size, image_size), num_classes,
                                             transform=T.ToTensor(), random_offset=seed + offset)

    n_val = max(1, size // 4)
    return DataBundle(_loader(make(size, 0), batch_size, True, 0, seed),
                      _loader(make(n_val, size), batch_size, False, 0, seed),
                      _loader(make(n_val, 2 * size), batch_size, False, 0, seed), (channels, image_size, image_size),
                      num_classes)


def build_data(spec: dict) -> DataBundle:
    """The DataBundle for a validated ``data:`` config section."""
    options = dict(spec)
    name = options.pop("type")
    with blame(f"data ({name})"):
        return DATASETS.get(name)(**options)


STATIC_SHAPES = {"cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100)}


def data_shape(spec: dict) -> Tuple[Tuple[int, int, int], int]:
    """(input shape, classes) of a data config; CIFAR's are known without reading the data."""
    if spec["type"] in STATIC_SHAPES:
        return STATIC_SHAPES[spec["type"]]
    data = build_data(spec)
    return data.input_shape, data.num_classes
