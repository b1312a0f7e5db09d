"""Property-based tests: any mutation of a shipped config is accepted and buildable, or refused with one line.

Mutations: a key dropped or misspelt, a subtree replaced by a bad value (string, list, mapping, null,
bool, zero, negative, huge, NaN, infinite), a component type replaced by an unknown name. Never another
exception; the hang guard is hypothesis's deadline.
"""
import copy
import glob
import math
import os
from datetime import timedelta
from typing import Any, List, Tuple

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import slotnas
from slotnas import SlotnasError
from slotnas.config import read_yaml, validate
from slotnas.runner import build, build_optimizer

CONFIG_DIR = os.path.join(os.path.dirname(slotnas.__file__), "configs")
SHIPPED = {os.path.basename(p): read_yaml(p) for p in sorted(glob.glob(os.path.join(CONFIG_DIR, "*.yaml")))
           if "arch" not in read_yaml(p) and "steps" not in read_yaml(p)}  # an architecture, a pipeline: not configs
# Built after validation when accepted; the DARTS cell spaces take ~2 s per build, so they are validated only.
BUILT = {"default.yaml", "default_asha.yaml", "nb201.yaml", "hierarchical_liu.yaml", "mobilenetv2_block.yaml",
         "mobilenetv2_moasha.yaml", "enas_cell.yaml"}
BAD_VALUES = ["x", "", [], [1], {}, {"a": 1}, None, True, False, 0, -1, 10 ** 12, 1.5, math.nan, math.inf,
              -math.inf, "a" * 1000, [[[[]]]]]
Path = Tuple[Any, ...]


def paths(node: Any, prefix: Path = ()) -> List[Path]:
    """Every key path in a config tree (mapping keys and list indices)."""
    found: List[Path] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        found.append(prefix + (key,))
        found.extend(paths(child, prefix + (key,)))
    return found


def parent(cfg: Any, path: Path) -> Any:
    for key in path[:-1]:
        cfg = cfg[key]
    return cfg


def mutate(cfg: dict, path: Path, kind: str, value: Any) -> dict:
    """A copy of ``cfg`` with one mutation at ``path``."""
    out = copy.deepcopy(cfg)
    holder, key = parent(out, path), path[-1]
    if kind == "drop":
        del holder[key]
    elif kind == "misspell" and isinstance(holder, dict):
        holder[str(key)[:-1] + "_" if len(str(key)) > 1 else "zz"] = holder.pop(key)
    elif kind == "unknown_type" and key == "type":
        holder[key] = "NoSuchThing"
    else:
        holder[key] = copy.deepcopy(value)
    return out


def check_outcome(cfg: dict, name: str) -> str:
    """'refused' (one-line SlotnasError), 'accepted' (validated, not built) or 'built'; else the test fails."""
    try:
        valid = validate(cfg)
        if name not in BUILT:
            return "accepted"
        valid["run"]["workers"] = 1
        components = build(valid)
        build_optimizer(valid, components.space)
        return "built"
    except SlotnasError as exc:
        message = str(exc)
        assert "\n" not in message and 0 < len(message) < 3000, message
        return "refused"


mutations = st.sampled_from(sorted(SHIPPED)).flatmap(lambda name: st.tuples(
    st.just(name), st.sampled_from(paths(SHIPPED[name])),
    st.sampled_from(["drop", "misspell", "replace", "replace", "replace", "unknown_type"]),
    st.sampled_from(BAD_VALUES)))


@settings(max_examples=int(os.environ.get("SLOTNAS_PROPERTY_EXAMPLES", 300)), deadline=timedelta(seconds=20),
          suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(mutations)
def test_a_mutated_shipped_config_is_buildable_or_refused_in_one_line(mutation):
    name, path, kind, value = mutation
    event(check_outcome(mutate(SHIPPED[name], path, kind, value), name))  # pytest --hypothesis-show-statistics


# The nastiest cases met while writing the property above, kept as plain regression tests.
CORPUS = [
    ("default.yaml", ("model", "stem"), 10 ** 12),  # a width no machine can allocate
    ("default.yaml", ("model", "layout", 0, 0), "16"),  # a string channel count
    ("default.yaml", ("model", "layout"), [[[[]]]]),
    ("default.yaml", ("data", "val_fraction"), 1.5),
    ("default.yaml", ("trainer", "lr"), math.nan),
    ("default.yaml", ("run", "budget"), True),
    ("default.yaml", ("construct", 0, "candidates"), []),
    ("nb201.yaml", ("template", "init_channels"), 0),
    ("nb201.yaml", ("template", "cells_layout"), [0, 7]),
    ("hierarchical_liu.yaml", ("template",), "x"),
    ("enas_cell.yaml", ("template", "cell_groups_details", "num_nodes_per_cell"), 10 ** 12),
    ("mobilenetv2_block.yaml", ("template", "node_operations", 2, "allowed_operations"), ["MBConv-out_channels:x"]),
    ("mobilenetv2_moasha.yaml", ("slots",), [{"name": 5}]),
    ("mobilenetv2_moasha.yaml", ("scheduler", "eta"), 1),
]


@pytest.mark.parametrize("name, path, value", CORPUS, ids=[f"{n}:{'.'.join(map(str, p))}" for n, p, _ in CORPUS])
def test_corpus_of_nasty_values_is_refused_in_one_line(name, path, value):
    assert check_outcome(mutate(SHIPPED[name], path, "replace", value), name) == "refused"
