import pytest

from slotnas import Categorical, HandlerError, Numeric, ParamError, ParamSpace


def make_space(n: int = 3) -> ParamSpace:
    space = ParamSpace()
    for i in range(n):
        space.add(Categorical(["x", "y", "z"], name=f"p{i}"))
    return space


def test_update_emits_only_on_change():
    space = make_space()
    seen = []
    space.on_update("p0")(lambda p: seen.append((p.name, p.value)))
    space.update({"p0": "x"})  # unchanged default
    assert seen == []
    space.update({"p0": "y"})
    space["p0"].value = "y"  # unchanged again
    space["p0"].value = "z"  # attribute assignment goes through the space
    assert seen == [("p0", "y"), ("p0", "z")]


def test_blinker_signal_carries_old_and_new_value():
    space = make_space()
    got = []
    space.events.signal("p1").connect(lambda sender, value, old: got.append((sender.name, old, value)), weak=False)
    space.update({"p1": "z"})
    assert got == [("p1", "x", "z")]


def test_on_update_argument_connects_when_added():
    space = ParamSpace()
    seen = []
    space.add(Numeric(0, 10, integer=True, name="n", on_update=lambda p: seen.append(p.value)))
    space.update({"n": 3})
    assert seen == [3]


def test_any_and_all_conditions():
    space = make_space()
    calls = []
    space.on_update("p0", "p1", mode="any")(lambda a, b: calls.append(("any", a.value, b.value)))
    space.on_update("p0", "p1", mode="all")(lambda a, b: calls.append(("all", a.value, b.value)))
    space.update({"p0": "y"})
    assert calls == [("any", "y", "x")]
    calls.clear()
    space.update({"p0": "z", "p1": "z"})
    assert calls == [("all", "z", "z"), ("any", "z", "z")]  # same watch list: 'all' runs first
    calls.clear()
    space.update({"p2": "y"})
    assert calls == []


def test_handlers_watching_more_parameters_run_first_then_priority():
    space = make_space()
    order = []
    space.on_update("p0")(lambda p: order.append("single"))
    space.on_update("p0", "p1", "p2", mode="any")(lambda *ps: order.append("three"))
    space.on_update("p0", "p1", mode="any")(lambda *ps: order.append("two"))
    space.on_update("p0", priority=5)(lambda p: order.append("urgent"))
    space.update({"p0": "y", "p1": "y"})
    assert order == ["urgent", "three", "two", "single"]
    assert [h.watch for h in space.events.handlers][:2] == [("p0",), ("p0", "p1", "p2")]


def test_each_handler_runs_once_per_batch():
    space = make_space()
    calls = []
    space.on_update("p0", "p1", "p2")(lambda *ps: calls.append(1))
    space.update({"p0": "y", "p1": "y", "p2": "y"})
    assert calls == [1]


def test_batch_is_validated_before_any_event():
    space = make_space()
    calls = []
    space.on_update("p0")(lambda p: calls.append(p.value))
    with pytest.raises(ParamError, match="p1"):
        space.update({"p0": "y", "p1": "bad"})
    assert calls == [] and space["p0"].value == "x"


def test_handler_exception_names_the_parameter():
    space = make_space()

    def broken(p):
        raise RuntimeError("boom")

    space.on_update("p2")(broken)
    with pytest.raises(HandlerError, match=r"handler .*broken failed on update of p2='y': RuntimeError: boom"):
        space.update({"p2": "y"})


def test_handler_for_unknown_parameter_or_mode_is_rejected():
    space = make_space()
    with pytest.raises(ParamError, match="unknown parameter 'p9'"):
        space.on_update("p9")(lambda p: None)
    with pytest.raises(ParamError, match="allowed: any, all"):
        space.on_update("p0", mode="some")(lambda p: None)


def test_nested_update_from_handler():
    space = make_space()
    log = []
    space.on_update("p0")(lambda p: space.update({"p1": p.value}))
    space.on_update("p1")(lambda p: log.append(p.value))
    space.update({"p0": "z"})
    assert space["p1"].value == "z" and log == ["z"]


def test_two_spaces_never_see_each_others_events():
    a, b = make_space(), make_space()  # same parameter names in both
    seen_a, seen_b = [], []
    a.on_update("p0")(lambda p: seen_a.append(p.value))
    b.on_update("p0")(lambda p: seen_b.append(p.value))
    a.update({"p0": "y"})
    assert seen_a == ["y"] and seen_b == [] and b["p0"].value == "x"
    b.update({"p0": "z"})
    assert seen_a == ["y"] and seen_b == ["z"]
