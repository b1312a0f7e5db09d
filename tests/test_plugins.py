"""Plugins from YAML: user files and modules registered before validation, paths relative to the config."""
import csv
import os
import subprocess
import sys

import pytest
import yaml
from PIL import Image

from slotnas import SlotnasError
from slotnas.config import load_config

PLUGIN = '''
from torch import nn
from slotnas.arch_space.candidates import register_candidate
from slotnas.metrics import Metric, register_metric


@register_candidate("MY_CONV")
def my_conv(slot):
    return nn.Sequential(nn.Conv2d(slot.chn_in, slot.chn_out, 3, slot.stride, padding=1), nn.ReLU())


@register_metric("my_depth")
class MyDepth(Metric):
    """Number of Conv2d layers in the current architecture."""

    def compute(self, model):
        from slotnas.arch_space.export import iter_active
        return {"convs": sum(isinstance(m, nn.Conv2d) for m in iter_active(model))}
'''

MODEL = '''
from torch import nn
from slotnas import Slot


class Net(nn.Module):
    def __init__(self, in_channels=3, num_classes=2):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.cell = Slot(8, 8, 1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))

    def forward(self, x):
        return self.head(self.cell(self.stem(x)))
'''


def make_project(folder):
    """A user's folder: a plugin file, a model file, a tiny image folder and a config naming them relatively."""
    (folder / "myplugin.py").write_text(PLUGIN)
    (folder / "mycnn.py").write_text(MODEL)
    for split, n in (("train", 8), ("test", 4)):
        for label, color in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
            os.makedirs(folder / "imgs" / split / label, exist_ok=True)
            for i in range(n):
                Image.new("RGB", (8, 8), tuple(max(0, c - 9 * i) for c in color)).save(
                    folder / "imgs" / split / label / f"{i}.png")
    config = {"plugins": ["myplugin.py"], "model": {"type": "mycnn.py:Net"},
              "construct": [{"type": "mixed_op", "candidates": ["MY_CONV", "NC3", "IDT"]}],
              "optim": {"type": "GridSearch"}, "estim": {"type": "SubNetEstim", "epochs": 1},
              "trainer": {"epochs": 1}, "data": {"type": "image_folder", "root": "imgs", "image_size": 8,
                                                 "batch_size": 4, "val_fraction": 0.25},
              "metrics": ["params", "my_depth"],
              "run": {"budget": 3, "progress": False, "retrain_epochs": 0, "export_onnx": False,
                      "export_program": False, "workers": 2, "threads": 1}}
    (folder / "project.yaml").write_text(yaml.safe_dump(config))
    return folder / "project.yaml"


def test_plugins_files_and_relative_paths_work_from_any_folder_and_in_workers(tmp_path):
    (tmp_path / "project").mkdir()
    config = make_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-m", "slotnas.cli", "search", str(config), "--out", str(elsewhere / "runs")],
                          cwd=elsewhere, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
    assert proc.returncode == 0, proc.stderr
    assert "2 worker(s)" in proc.stderr  # the spawned worker imported the plugin as well
    run_dir = proc.stdout.strip().splitlines()[-1].split("run folder: ")[1]
    stored = yaml.safe_load(open(os.path.join(run_dir, "config.yaml")))
    assert stored["plugins"] == [str(tmp_path / "project" / "myplugin.py")]  # absolute: resume works anywhere
    assert stored["data"]["root"] == str(tmp_path / "project" / "imgs")
    rows = list(csv.DictReader(open(os.path.join(run_dir, "results.csv"))))
    assert sorted(r["arch.cell"] for r in rows) == ["IDT", "MY_CONV", "NC3"]  # the plugin's candidate was searched
    convs = {r["arch.cell"]: int(r["convs"]) for r in rows}  # the plugin's metric was measured
    assert convs["IDT"] == 1 and convs["MY_CONV"] == 2


@pytest.mark.parametrize("plugins, message", [
    (["os"], r"^plugins\[0\]: 'os' names the Python standard library"),
    (["missing.py"], r"^plugins\[0\]: file '.*missing.py' not found$"),
    (["no_such_plugin_module"], r"^plugins\[0\]: cannot import 'no_such_plugin_module' \(ModuleNotFoundError"),
    ("myplugin.py", r"^plugins: expected a list of module names or .py files, got 'myplugin.py'$"),
    (["broken.py"], r"^plugins\[0\]: importing '.*broken.py' failed \(ZeroDivisionError: division by zero\)$"),
])
def test_bad_plugins_are_one_line_errors(tmp_path, plugins, message):
    (tmp_path / "broken.py").write_text("1 / 0\n")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"plugins": plugins, "construct": [{"type": "mixed_op", "candidates": ["NC3"]}]}))
    with pytest.raises(SlotnasError, match=message):
        load_config(str(config))
