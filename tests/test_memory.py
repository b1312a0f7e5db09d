"""Memory of one training step: the estimate describe prints, and what checkpointed mixed ops save."""
import os

import pytest
import torch

import slotnas
from slotnas.cli import main
from slotnas.config import load_config
from slotnas.memory import activation_bytes, estimate_activation_bytes
from slotnas.runner import build_space

CONFIGS = os.path.join(os.path.dirname(slotnas.__file__), "configs")


@pytest.mark.parametrize("name, shape", [("default.yaml", (1, 8, 8)), ("nb201.yaml", (1, 16, 16)),
                                         ("mobilenetv2_block.yaml", (3, 32, 32))])
def test_the_estimate_from_two_small_batches_matches_a_measurement_at_the_real_batch(name, shape):
    model, _ = build_space(load_config(os.path.join(CONFIGS, name)), shape, 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    estimate, measured = estimate_activation_bytes(model, shape, 10, 48), activation_bytes(model, shape, 10, 48)
    assert measured > 0 and abs(estimate - measured) <= 0.02 * measured
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BatchNorm statistics restored


def test_checkpointed_mixed_ops_cut_the_darts_activation_memory():
    cfg = load_config(os.path.join(CONFIGS, "darts_cell.yaml"), ["template.cells_layout=[0, 1, 0]"])
    plain, _ = build_space(cfg, (1, 16, 16), 10)
    cfg["construct"][0]["checkpoint"] = True
    lean, _ = build_space(cfg, (1, 16, 16), 10)
    assert activation_bytes(lean, (1, 16, 16), 10, 8) < 0.1 * activation_bytes(plain, (1, 16, 16), 10, 8)


def test_describe_prints_the_memory_of_a_training_step(capsys):
    assert main(["describe", os.path.join(CONFIGS, "default.yaml"), "--batch-size", "32"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("memory at batch 32, input [1, 8, 8]: ~") and "MiB of activations kept for backward" in line
    assert main(["describe", os.path.join(CONFIGS, "default.yaml"), "--batch-size", "0"]) == 2
