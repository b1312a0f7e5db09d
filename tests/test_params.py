import math
import random

import pytest
import torch
import yaml

from slotnas import Categorical, Numeric, ParamError, ParamSpace, TensorParam


def make_space() -> ParamSpace:
    space = ParamSpace()
    space.add(Categorical(["NC3", "NC5", "IDT"], name="op"))
    space.add(Numeric(1, 8, integer=True, name="depth"))
    space.add(Numeric(1e-4, 1e-1, log=True, name="lr"))
    space.add(TensorParam(4, name="alpha"))
    return space


def test_categorical_default_and_choices():
    p = Categorical([3, 5, 7])
    assert p.value == 3 and p.default == 3 and p.size() == 3
    assert Categorical(["a", "b"], default="b").value == "b"
    assert Categorical([(1, 2), (3, 4)]).validate([3, 4]) == (3, 4)  # YAML lists map to tuples


def test_categorical_rejects_value_outside_choices_naming_param_and_allowed():
    space = make_space()
    with pytest.raises(ParamError, match=r"parameter 'op': value 'NC4' not allowed; allowed: NC3, NC5, IDT"):
        space.update({"op": "NC4"})


@pytest.mark.parametrize("bad", [[], ["a", "a"], [["x"]]])
def test_categorical_bad_choices(bad):
    with pytest.raises(ParamError):
        Categorical(bad, name="p")


def test_numeric_bounds_and_types():
    space = make_space()
    with pytest.raises(ParamError, match=r"parameter 'depth': value 9 not allowed; allowed: integers in \[1, 8\]"):
        space.update({"depth": 9})
    with pytest.raises(ParamError, match="depth"):
        space.update({"depth": 2.5})
    with pytest.raises(ParamError, match="lr"):
        space.update({"lr": "fast"})
    with pytest.raises(ParamError, match="lr"):
        space.update({"lr": True})
    space.update({"depth": 4.0, "lr": 0.01})
    assert space["depth"].value == 4 and isinstance(space["depth"].value, int)
    with pytest.raises(ParamError, match="low"):
        Numeric(2, 1, name="x")
    with pytest.raises(ParamError, match="log"):
        Numeric(0, 1, log=True, name="x")


def test_numeric_sample_stays_in_bounds_and_log_spreads():
    p = Numeric(1e-4, 1.0, log=True)
    rng = random.Random(0)
    xs = [p.sample(rng) for _ in range(2000)]
    assert all(1e-4 <= x <= 1.0 for x in xs)
    below = sum(x < 1e-2 for x in xs) / len(xs)
    assert 0.4 < below < 0.6  # log-uniform: half the mass below the geometric midpoint
    q = Numeric(0, 3, integer=True)
    assert {q.sample(rng) for _ in range(200)} == {0, 1, 2, 3}


def test_tensor_param_shape_check_and_in_place_update():
    p = TensorParam((2, 3), name="a")
    ref = p.value
    assert isinstance(ref, torch.nn.Parameter) and ref.shape == (2, 3)
    p.value = torch.ones(2, 3)
    assert p.value is ref and torch.equal(ref.detach(), torch.ones(2, 3))
    with pytest.raises(ParamError, match=r"parameter 'a'.*shape \(2, 3\)"):
        p.value = torch.ones(3)
    with pytest.raises(ParamError, match="not sampled"):
        p.sample(random.Random(0))


def test_space_unique_names_lookup_and_unknown_name():
    space = make_space()
    assert space.names() == ["op", "depth", "lr", "alpha"]
    assert "op" in space and len(space) == 4 and [p.name for p in space] == space.names()
    with pytest.raises(ParamError, match="already exists"):
        space.add(Categorical([1, 2], name="op"))
    with pytest.raises(ParamError, match=r"unknown parameter 'dept' \(did you mean 'depth'\?\); allowed: op, depth"):
        space.get("dept")
    with pytest.raises(ParamError, match="unknown parameter 'nope'"):
        space.update({"nope": 1})
    with pytest.raises(ParamError, match="another space"):
        ParamSpace().add(space["op"])


def test_space_size():
    space = ParamSpace()
    space.add(Categorical(["a", "b", "c"], name="x"))
    space.add(Numeric(0, 4, integer=True, name="y"))
    assert space.size() == 15
    space.add(TensorParam(4, name="t"))
    assert space.size() == 60  # argmax of a 4-vector: 4 choices
    space.add(Numeric(0.0, 1.0, name="z"))
    assert space.size() == math.inf


def test_sample_is_reproducible_and_valid():
    space = make_space()
    a, b = space.sample(123), space.sample(random.Random(123))
    assert a == b and set(a) == {"op", "depth", "lr"}
    space.update(a)  # sampled values are valid
    assert len({tuple(sorted(space.sample(s).items())) for s in range(20)}) > 10


def test_to_dict_load_dict_round_trip_through_yaml():
    space = make_space()
    space.update({"op": "IDT", "depth": 7, "lr": 0.003, "alpha": torch.arange(4.0)})
    text = yaml.safe_dump(space.to_dict())
    other = make_space()
    other.load_dict(yaml.safe_load(text))
    assert other.to_dict() == space.to_dict()
    assert other["op"].value == "IDT" and other["depth"].value == 7
    assert torch.equal(other["alpha"].value.detach(), torch.arange(4.0))
    assert "alpha" not in space.to_dict(tensors=False)


def test_failed_batch_changes_nothing():
    space = make_space()
    before = space.to_dict()
    with pytest.raises(ParamError):
        space.update({"op": "NC5", "depth": 100})
    assert space.to_dict() == before
