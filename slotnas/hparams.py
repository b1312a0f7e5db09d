"""Hyperparameters next to the architecture: ``hparams:`` entries become parameters of the same space, so
every optimizer searches them jointly with the architecture; ``trainer.*`` ones reach the trainer through
the space's update handlers (as architecture changes reach the model), others go to a user objective."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Literal, Optional

from .errors import SlotnasError
from .params import Categorical, Numeric, Param, ParamSpace
from .registry import check_options, check_value, signature_options, unknown_name_message

KINDS = ("categorical", "int", "float", "log_float")
DATA_HPARAMS = ["data.batch_size"]  # data options a search may vary per trial


def hparam_schema(type: Literal[KINDS], choices: Optional[List[Any]] = None, low: Optional[float] = None,
                  high: Optional[float] = None, default: Any = None) -> None:
    """One hyperparameter: ``categorical`` with ``choices``, or ``int`` / ``float`` / ``log_float`` in
    [``low``, ``high``]; ``default`` is what the space starts at."""


def make_param(name: str, entry: Dict[str, Any]) -> Param:
    """The space parameter an ``hparams:`` entry describes."""
    if entry["type"] == "categorical":
        if not entry.get("choices"):
            raise SlotnasError(f"hparams.{name}: categorical needs a non-empty list of choices")
        return Categorical(entry["choices"], default=entry.get("default"), name=name)
    for key in ("low", "high"):
        check_value(f"hparams.{name}.{key}", entry.get(key), float)
    if not entry["low"] <= entry["high"] or entry["type"] == "log_float" and entry["low"] <= 0:
        raise SlotnasError(f"hparams.{name}: expected low <= high" + (" and low > 0" * (entry["type"] == "log_float"))
                           + f", got low {entry['low']}, high {entry['high']}")
    return Numeric(entry["low"], entry["high"], log=entry["type"] == "log_float", integer=entry["type"] == "int",
                   default=entry.get("default"), name=name)


def check_hparams(hparams: Any) -> Dict[str, Dict[str, Any]]:
    """Validate the ``hparams:`` section (names, kinds, ranges, defaults, trainer options) before any work."""
    from .estim.trainer import Trainer

    check_value("hparams", hparams, Dict[str, Any])
    trainer_options = [n for n in signature_options(Trainer)[0] if n != "device"]
    for name, entry in hparams.items():
        if not isinstance(entry, dict):
            raise SlotnasError(f"hparams.{name}: expected a mapping such as {{type: log_float, low: 0.001, high: 0.1}}")
        check_options(hparam_schema, f"hparams.{name}", entry)
        if name.startswith("data.") and name not in DATA_HPARAMS:
            raise SlotnasError(f"hparams.{name}: " + unknown_name_message("data hyperparameter", name, DATA_HPARAMS))
        if name.startswith("trainer.") and name[len("trainer."):] not in trainer_options:
            raise SlotnasError(f"hparams.{name}: " + unknown_name_message("trainer option", name[len("trainer."):],
                                                                           trainer_options))
        param = make_param(name, entry)  # ranges and default, now
        if name == "data.batch_size" and not _positive_ints(param):
            raise SlotnasError("hparams.data.batch_size: expected positive integers (type int with low >= 1, or "
                               f"categorical choices such as [32, 64, 128]), got {entry}")
    return dict(hparams)


def _positive_ints(param: Param) -> bool:
    if isinstance(param, Categorical):
        return all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in param.choices)
    return isinstance(param, Numeric) and param.integer and param.low >= 1


def add_hparams(space: ParamSpace, hparams: Dict[str, Dict[str, Any]], trainer: Any, data: Any = None) -> None:
    """Add the hyperparameters to ``space``; a ``trainer.*`` one sets that trainer attribute on every update
    (and now, to its default), ``data.batch_size`` re-batches the data."""
    for name, entry in hparams.items():
        param = space.add(make_param(name, entry))
        if name == "data.batch_size" and data is not None:
            space.connect(lambda p: data.set_batch_size(int(p.value)), [name])
            data.set_batch_size(int(param.value))
        if name.startswith("trainer."):
            key = name[len("trainer."):]
            integer = isinstance(getattr(trainer, key, None), int) and not isinstance(getattr(trainer, key), bool)

            def apply(p: Param, key: str = key, integer: bool = integer) -> None:
                setattr(trainer, key, int(p.value) if integer and isinstance(p.value, float)
                        and math.isfinite(p.value) else p.value)

            space.connect(apply, [name])
            apply(param)
