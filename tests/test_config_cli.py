import os
import re

import pytest
import yaml

from slotnas import SlotnasError
from slotnas.cli import main
from slotnas.config import DEFAULT_CONFIG, load_config, validate
from slotnas.overrides import apply_override

from .helpers import TINY


def errors_for(cfg: dict) -> str:
    with pytest.raises(SlotnasError) as info:
        validate(cfg)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("change, expected", [
    ({"optimizer": {"type": "RandomSearch"}}, r"config: unknown key 'optimizer' \(did you mean 'optim'\?\); allowed: model, template, slots"),
    ({"optim": {"type": "RandomSerch"}}, r"optim.type: unknown optimizer 'RandomSerch' \(did you mean 'RandomSearch'\?\); allowed: RandomSearch, GridSearch"),
    ({"optim": {"type": "RegularizedEvolution", "populaton": 5}}, r"optim \(RegularizedEvolution\): unknown option 'populaton' \(did you mean 'population'\?\)"),
    ({"optim": {"type": "RegularizedEvolution", "population": "ten"}}, r"optim \(RegularizedEvolution\).population: expected int >= 1, got str 'ten'"),
    ({"estim": {"type": "SPOSEstim", "supernet_epochs": 1.5}}, r"supernet_epochs: expected int >= 1, got float 1.5"),
    ({"estim": {"type": "Nope"}}, r"estim.type: unknown estimator 'Nope'; allowed: SubNetEstim, DefaultEstim, SPOSEstim"),
    ({"trainer": {"optimiser": "adam"}}, r"trainer: unknown option 'optimiser' \(did you mean 'optimizer'\?\)"),
    ({"data": {"type": "cifar10"}}, r"data \(cifar10\): missing option 'root'"),
    ({"data": {"type": "mnist"}}, r"data.type: unknown dataset 'mnist'"),
    ({"run": {"budjet": 3}}, r"run: unknown option 'budjet' \(did you mean 'budget'\?\)"),
    ({"run": {"budget": "many"}}, r"run.budget: expected int >= 1, got str 'many'"),
    ({"construct": [{"type": "mixed_op", "candidates": ["NC3", "XX9"]}]}, r"construct\[0\]: unknown candidate 'XX9'"),
    ({"construct": [{"type": "mixd_op", "candidates": ["NC3"]}]}, r"construct\[0\]: unknown constructor 'mixd_op'"),
    ({"slots": [{"typ": "Conv2d"}]}, r"slots\[0\]: slot rule key 'typ' unknown; allowed: type, name, exclude, attrs, group"),
    ({"model": {"type": "torchvision:resnet19"}}, r"model.type: unknown torchvision model 'resnet19' \(did you mean 'resnet18'\?\)"),
    ({"model": {"type": "no_such_pkg:Net"}}, r"model.type: cannot import 'no_such_pkg:Net'"),
    ({"metrics": ["parms"]}, r"metrics\[0\].type: unknown metric 'parms' \(did you mean 'params'\?\)"),
])
def test_config_errors_name_the_key_and_allowed_values(change, expected):
    cfg = {**TINY, **change}
    message = errors_for(cfg)
    assert re.search(expected, message), message


def test_missing_sections_and_defaults():
    assert "missing section 'construct'" in errors_for({"model": {"type": "slot_cnn"}})
    assert "exactly one of 'model'" in errors_for({"construct": TINY["construct"]})
    cfg = validate({"model": {"type": "slot_cnn"}, "construct": TINY["construct"]})
    assert cfg["optim"]["type"] == "RandomSearch" and cfg["run"]["budget"] == 20 and cfg["data"]["type"] == "digits"


def test_set_overrides():
    cfg = yaml.safe_load(yaml.safe_dump(TINY))
    apply_override(cfg, "optim.type=RegularizedEvolution")
    apply_override(cfg, "optim.population=4")
    apply_override(cfg, "construct.0.candidates=[NC5, IDT]")
    apply_override(cfg, "run.progress=false")
    assert cfg["optim"] == {"type": "RegularizedEvolution", "population": 4}
    assert cfg["construct"][0]["candidates"] == ["NC5", "IDT"] and cfg["run"]["progress"] is False
    with pytest.raises(SlotnasError, match="expected KEY=VALUE"):
        apply_override(cfg, "optim.type")
    with pytest.raises(SlotnasError, match="has no item '5'"):
        apply_override(cfg, "construct.5.type=fixed")


def test_default_config_is_valid_and_embedded():
    cfg = load_config()
    assert cfg["data"]["type"] == "digits" and len(cfg["construct"][0]["candidates"]) >= 4
    assert DEFAULT_CONFIG.endswith("default.yaml")


def test_config_file_errors(tmp_path):
    with pytest.raises(SlotnasError, match="config: file 'nope.yaml' not found"):
        load_config("nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(SlotnasError, match="invalid YAML"):
        load_config(str(bad))
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(SlotnasError, match="must hold a mapping"):
        load_config(str(listy))
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("model: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(SlotnasError, match="invalid YAML"):
        load_config(str(unsafe))


def test_cli_user_error_is_one_line_exit_2(tmp_path, capsys):
    code = main(["search", "--set", "optim.type=Bogus", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("slotnas: error: optim.type: unknown optimizer 'Bogus'")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["search", "missing.yaml"]) == 2
    with pytest.raises(SlotnasError):
        main(["--debug", "search", "missing.yaml"])


def test_cli_search_export_and_list(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    assert main(["search", str(config), "--out", str(tmp_path / "runs"), "--seed", "1", "--set", "run.budget=2"]) == 0
    out = capsys.readouterr().out
    assert "rank" in out and "val_acc" in out and "run folder:" in out
    run_dir = out.strip().splitlines()[-1].split("run folder: ")[1]
    assert yaml.safe_load(open(f"{run_dir}/config.yaml"))["run"]["seed"] == 1
    assert main(["export", run_dir, "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "no Slot or mixed op left" in capsys.readouterr().out and (tmp_path / "m.onnx").exists()
    assert main(["export", str(tmp_path)]) == 2
    for what in ("optimizers", "estimators", "candidates", "metrics", "datasets"):
        assert main(["list", what]) == 0
    listed = capsys.readouterr().out
    assert "RegularizedEvolution" in listed and "SPOSEstim" in listed and "MB3E6" in listed and "digits" in listed


ARCH_FILES = {"darts_v2.yaml", "pipeline_digits.yaml"}  # an architecture for --arch, a pipeline: not configs


@pytest.mark.parametrize("name", sorted(set(os.listdir(os.path.dirname(DEFAULT_CONFIG))) - ARCH_FILES))
def test_every_shipped_config_validates(name):
    cfg = load_config(os.path.join(os.path.dirname(DEFAULT_CONFIG), name))
    assert cfg["run"]["budget"] >= 1 and cfg["optim"]["type"]
