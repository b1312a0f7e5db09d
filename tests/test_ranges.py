"""Every config value is checked for type and range before any work, with one line naming the key."""
import inspect
import math

import pytest
import yaml

from slotnas import SlotnasError
from slotnas.cli import main
from slotnas.config import validate
from slotnas.registry import describe_hint, signature_options, type_matches

from .helpers import TINY


def error_for(change: dict) -> str:
    with pytest.raises(SlotnasError) as info:
        validate({**TINY, **change})
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("change, expected", [
    ({"trainer": {"lr": math.nan}}, "trainer.lr: expected float > 0, got float nan"),
    ({"trainer": {"lr": math.inf}}, "trainer.lr: expected float > 0, got float inf"),
    ({"trainer": {"lr": 0}}, "trainer.lr: expected float > 0, got int 0"),
    ({"trainer": {"epochs": 0}}, "trainer.epochs: expected int >= 1, got int 0"),
    ({"trainer": {"epochs": True}}, "trainer.epochs: expected int >= 1, got bool True"),  # a bool is not an int
    ({"trainer": {"momentum": 1.5}}, "trainer.momentum: expected float in [0, 1], got float 1.5"),
    ({"trainer": {"label_smoothing": 1.0}}, "trainer.label_smoothing: expected float in [0, 1), got float 1.0"),
    ({"estim": {"type": "SubNetEstim", "epochs": -2}}, "estim (SubNetEstim).epochs: expected int >= 1 or null, got int -2"),
    ({"data": {"type": "digits", "val_fraction": 1.5}}, "data (digits).val_fraction: expected float in (0, 1), got float 1.5"),
    ({"data": {"type": "digits", "val_fraction": 0}}, "data (digits).val_fraction: expected float in (0, 1), got int 0"),
    ({"data": {"type": "digits", "batch_size": -3}}, "data (digits).batch_size: expected int >= 1, got int -3"),
    ({"model": {"type": "slot_cnn", "stem": 0}}, "model (slot_cnn).stem: expected int >= 1, got int 0"),
    ({"model": {"type": "slot_cnn", "stem": "8"}}, "model (slot_cnn).stem: expected int >= 1, got str '8'"),
    ({"model": {"type": "slot_cnn", "layout": [["16", "1"]]}},
     "model (slot_cnn).layout: expected a list of [int >= 1, int >= 1], got list [['16', '1']]"),
    ({"model": {"type": "slot_cnn", "layout": [[16]]}},  # a list of the wrong length
     "model (slot_cnn).layout: expected a list of [int >= 1, int >= 1], got list [[16]]"),
    ({"construct": [{"type": "mixed_op", "candidates": []}]},
     "construct[0].candidates: expected a list of str with at least 1 item or null, got list []"),
    ({"construct": [{"type": "mixed_op", "candidates": ["NC3"], "mixed": "gumbel", "tau": 0}]},
     "construct[0] (mixed op 'gumbel').tau: expected float > 0, got int 0"),
    ({"construct": [{"type": "mixed_op", "candidates": ["NC3"], "mixed": "binary_gate", "n_paths": 3}]},
     "construct[0] (mixed op 'binary_gate').n_paths: expected one of 1, 2, got int 3"),
    ({"construct": [{"type": "mixed_op", "slots": 5}]}, "construct[0].slots: expected str, got int 5"),
    ({"optim": {"type": "RegularizedEvolution", "population": 1e9}},
     "optim (RegularizedEvolution).population: expected int >= 1, got float 1000000000.0"),
    ({"optim": {"type": "DARTS", "lr": math.nan}, "estim": {"type": "SupernetEstim"}},
     "optim (DARTS).lr: expected float > 0, got float nan"),
    ({"metrics": [{"type": "latency", "input_shape": [3, 0, 8]}]},
     "metrics[0] (latency).input_shape: expected a list of int >= 1 with at least 1 item or null, got list [3, 0, 8]"),
    ({"run": {"workers": "x"}}, "run.workers: expected int >= 1 or one of 'auto', got str 'x'"),
    ({"run": {"executor": "dask"}}, "run.executor: expected one of 'local', 'ray', got str 'dask'"),
    ({"run": {"seed": -1}}, "run.seed: expected int >= 0, got int -1"),
    ({"run": {"budget": True}}, "run.budget: expected int >= 1, got bool True"),
    ({"run": {"retrain_epochs": -1}}, "run.retrain_epochs: expected int >= 0 or null, got int -1"),
    ({"model": {"type": "SlotCNN"}}, "model.type: unknown model 'SlotCNN' (did you mean 'slot_cnn'?); allowed: slot_cnn, from_run"),
])
def test_values_out_of_range_name_the_key_the_value_and_what_is_allowed(change, expected):
    assert error_for(change) == expected


def test_long_values_are_shortened_in_the_message():
    message = error_for({"run": {"budget": "x" * 10_000}})
    assert message.startswith("run.budget: expected int >= 1, got str 'xxx") and len(message) < 200


@pytest.mark.parametrize("hint_value, ok", [(1, True), (0, False), (True, False), (1.0, False), ("1", False)])
def test_a_positive_int_is_an_int_not_a_bool_or_float(hint_value, ok):
    from slotnas.constraints import PositiveInt

    assert type_matches(hint_value, PositiveInt) is ok


def _all_components():
    from slotnas.arch_space.backbones import MODELS
    from slotnas.arch_space.construct import CONSTRUCTORS
    from slotnas.arch_space.mixed_ops import MIXED_OPS
    from slotnas.config import component_registries
    from slotnas.estim.trainer import Trainer
    from slotnas.schedulers import SCHEDULERS

    registries = {**component_registries(), "scheduler": SCHEDULERS, "model": MODELS, "construct": CONSTRUCTORS,
                  "mixed op": MIXED_OPS}
    yield "trainer", Trainer
    for kind, registry in registries.items():
        for name in registry.names():
            yield f"{kind} {name}", registry.get(name)


def test_every_numeric_option_of_every_component_has_a_checked_type():
    """A number option without a type hint would pass unchecked: each one is declared, where it lives."""
    from slotnas.registry import _hint

    unchecked = []
    for label, component in _all_components():
        params, _ = signature_options(component)
        for name, param in params.items():
            numeric = isinstance(param.default, (int, float)) and not isinstance(param.default, bool)
            if numeric and _hint(component, name) is None:
                unchecked.append(f"{label}.{name}")
    assert unchecked == []


def test_every_count_default_satisfies_its_own_declared_range():
    """Defaults are checked by the same rule as user values: a rule that refuses its own default is wrong."""
    from slotnas.registry import _hint

    for label, component in _all_components():
        for name, param in signature_options(component)[0].items():
            hint = _hint(component, name)
            if param.default is not inspect.Parameter.empty and hint is not None:
                assert type_matches(param.default, hint), f"{label}.{name}={param.default!r} vs {describe_hint(hint)}"


def test_cli_range_error_is_one_line_exit_2_before_any_run_folder(tmp_path, capsys):
    code = main(["search", "--set", "data.val_fraction=1.5", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.splitlines() == [err] and "data (digits).val_fraction: expected float in (0, 1), got float 1.5" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()


def test_errors_only_a_builder_can_find_name_the_config_key(tmp_path, monkeypatch, capsys):
    """A user model whose constructor raises, a dataset that cannot be split: one line with the key, exit 2."""
    (tmp_path / "brokenmodel.py").write_text(
        "from torch import nn\n\n"
        "class Broken(nn.Module):\n"
        "    def __init__(self, num_classes=10):\n"
        "        super().__init__()\n"
        "        raise ValueError('width must be even')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "broken.yaml"
    config.write_text(yaml.safe_dump({**TINY, "model": {"type": "brokenmodel:Broken"}, "construct": []}))
    code = main(["describe", str(config)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "slotnas: error: model (brokenmodel:Broken): ValueError: width must be even"
    code = main(["search", "--set", "data.val_fraction=0.9999", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("slotnas: error: data (digits): ValueError: ") and "\n" not in err
    with pytest.raises(ValueError, match="width must be even"):  # --debug: the original exception as the cause
        try:
            main(["--debug", "describe", str(config)])
        except SlotnasError as exc:
            raise exc.__cause__
