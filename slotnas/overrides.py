"""``--set KEY=VALUE`` overrides, and switching a component's type in one line.

``--set optim.type=DARTS`` on a config written for RegularizedEvolution drops the options DARTS does
not take (a one-line note says which) and, unless the estimator is set too, switches the estimator to
one that drives the new optimizer kind; a ``mixed_op`` step at ``mixed: auto`` follows the optimizer
when the config is validated.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence

from .errors import SlotnasError
from .registry import Registry, signature_options
from .yaml_io import parse_yaml

log = logging.getLogger("slotnas")

SWITCHABLE = ("optim", "estim", "data", "scheduler")  # sections whose options depend on their type


def check_assignments(assignments: Sequence[str]) -> None:
    """Every ``--set`` is KEY=VALUE (checked before any file is read: ``--set run.budget 3`` would
    otherwise take ``3`` for the config file)."""
    for assignment in assignments:
        if not isinstance(assignment, str) or "=" not in assignment or not assignment.partition("=")[0].strip():
            raise SlotnasError(f"--set {assignment!r}: expected KEY=VALUE with no spaces around '=', "
                               "e.g. --set run.budget=3")


def apply_override(cfg: Dict[str, Any], assignment: str) -> None:
    """Apply one ``a.b.c=value`` (value parsed as YAML; list items by index) to ``cfg`` in place.

    Setting a section's ``type`` to another type drops the options the new type does not take.
    """
    check_assignments([assignment])
    path, _, raw = assignment.partition("=")
    keys = path.strip().split(".")
    value = parse_yaml(raw, f"--set {path.strip()}") if raw.strip() else None
    node: Any = cfg
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise SlotnasError(f"--set {path}: {'.'.join(keys[:i]) or 'list'} has no item {key!r}")
            key = int(key)  # type: ignore[assignment]
        elif not isinstance(node, dict):
            raise SlotnasError(f"--set {path}: {'.'.join(keys[:i])} is not a section")
        if last:
            if len(keys) == 2 and keys[0] in SWITCHABLE and key == "type":
                switch_type(cfg, keys[0], value)
            else:
                node[key] = value
        else:
            if isinstance(node, dict) and key not in node:
                node[key] = {}
            node = node[key]


def apply_overrides(cfg: Dict[str, Any], assignments: Sequence[str]) -> Dict[str, Any]:
    """Apply every ``--set`` in order; if the optimizer's type changed and the estimator's did not,
    the estimator follows the optimizer's kind (discrete or gradient). Returns ``cfg``."""
    check_assignments(assignments)
    for assignment in assignments:
        apply_override(cfg, assignment)
    keys = [a.partition("=")[0].strip() for a in assignments]
    if "optim.type" in keys and "estim.type" not in keys and "estim" not in keys:
        _estimator_follows_optimizer(cfg)
    return cfg


def switch_type(cfg: Dict[str, Any], section: str, new_type: Any) -> None:
    """Set ``cfg[section]['type']``; options the new type does not take are dropped with a note."""
    spec = cfg.get(section)
    spec = {"type": spec} if isinstance(spec, str) else spec
    if not isinstance(spec, dict):
        cfg[section] = {"type": new_type}
        return
    old_type, spec = spec.get("type"), dict(spec)
    spec["type"] = new_type
    cfg[section] = spec
    accepted = _accepted_options(section, new_type)
    if old_type == new_type or accepted is None:
        return
    dropped = [key for key in spec if key != "type" and key not in accepted]
    for key in dropped:
        del spec[key]
    if dropped:
        log.warning("slotnas: note: %s.type=%s does not take %s (options of %s); dropped",
                    section, new_type, ", ".join(dropped), old_type)


def _registry(section: str) -> Registry:
    from .config import component_registries
    from .schedulers import SCHEDULERS

    return {**component_registries(), "scheduler": SCHEDULERS}[section]


def _accepted_options(section: str, type_name: Any) -> Optional[List[str]]:
    """The options ``type_name`` takes in ``section``; None when unknown or open-ended (nothing dropped)."""
    from .config import INJECTED

    registry = _registry(section)
    if not isinstance(type_name, str) or type_name not in registry:
        return None  # validation names the unknown type
    params, open_ended = signature_options(registry.get(type_name))
    return None if open_ended else [n for n in params if n not in INJECTED.get(section, ())]


def _estimator_follows_optimizer(cfg: Dict[str, Any]) -> None:
    optim, estim = cfg.get("optim"), cfg.get("estim")
    optim_type = optim.get("type") if isinstance(optim, dict) else optim
    estim_type = estim.get("type") if isinstance(estim, dict) else estim
    optimizers, estimators = _registry("optim"), _registry("estim")
    if optim_type not in optimizers or estim_type not in estimators:
        return
    kind = getattr(optimizers.get(optim_type), "kind", "discrete")
    if getattr(estimators.get(estim_type), "accepts", "discrete") == kind:
        return
    follow = next(n for n in estimators.names() if getattr(estimators.get(n), "accepts", "discrete") == kind)
    log.warning("slotnas: note: optim %s is %s; estim.type follows: %s (was %s)", optim_type, kind, follow, estim_type)
    switch_type(cfg, "estim", follow)
