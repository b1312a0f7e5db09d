import pickle

import numpy as np
import pytest
import torch

from slotnas import SlotnasError
from slotnas.data import build_data


def test_digits_stratified_split():
    data = build_data({"type": "digits", "batch_size": 100})
    sizes = [sum(len(y) for _, y in part) for part in (data.train, data.val, data.test)]
    assert sum(sizes) == 1797 and abs(sizes[1] - 360) <= 1 and abs(sizes[2] - 360) <= 1
    val_labels = torch.cat([y for _, y in data.val])
    assert torch.bincount(val_labels).min() >= 33  # every class present in proportion
    x, _ = next(iter(data.train))
    assert x.shape[1:] == (1, 8, 8) and data.input_shape == (1, 8, 8) and data.num_classes == 10


def test_digits_resize_and_channels():
    data = build_data({"type": "digits", "image_size": 16, "channels": 3})
    assert next(iter(data.val))[0].shape[1:] == (3, 16, 16) and data.input_shape == (3, 16, 16)


def test_cifar10_from_local_folder(tmp_path, monkeypatch):
    import torchvision

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)

    def batch(n):
        return {"data": rng.integers(0, 255, (n, 3072), dtype=np.uint8), "labels": list(rng.integers(0, 10, n))}

    for i in range(1, 6):
        pickle.dump(batch(10), open(folder / f"data_batch_{i}", "wb"))
    pickle.dump(batch(8), open(folder / "test_batch", "wb"))
    pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, open(folder / "batches.meta", "wb"))
    # the generated files cannot match the published md5 sums; everything else is the real loader
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    data = build_data({"type": "cifar10", "root": str(tmp_path), "batch_size": 16, "val_fraction": 0.2})
    assert sum(len(y) for _, y in data.train) == 40 and sum(len(y) for _, y in data.val) == 10
    x, y = next(iter(data.test))
    assert x.shape == (8, 3, 32, 32) and data.num_classes == 10


def test_cifar_missing_folder_says_what_to_put_where(tmp_path):
    with pytest.raises(SlotnasError, match=r"data.root: no 'cifar-10-batches-py' folder in .*never downloads"):
        build_data({"type": "cifar10", "root": str(tmp_path)})


def test_image_folder_and_fake(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((10, 12, 3), i * 40, dtype=np.uint8)).save(tmp_path / split / cls / f"{i}.png")
    data = build_data({"type": "image_folder", "root": str(tmp_path), "image_size": 8, "batch_size": 4})
    assert data.num_classes == 2 and data.input_shape == (3, 8, 8)
    assert next(iter(data.train))[0].shape == (4, 3, 8, 8) and data.test is None
    fake = build_data({"type": "fake", "size": 16, "image_size": 8, "batch_size": 8})
    assert next(iter(fake.train))[0].shape == (8, 3, 8, 8)
    with pytest.raises(SlotnasError, match="no 'train' folder"):
        build_data({"type": "image_folder", "root": str(tmp_path / "nothing")})
