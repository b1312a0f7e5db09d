"""Resume checks: a run continues only with the config that produced its trials."""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

from ..errors import SlotnasError

# run keys that change how a run executes, not what its trials measure: free to change on resume
RUNTIME_KEYS = ("budget", "progress", "workers", "executor", "threads", "ray_address", "resources", "callbacks",
                "catch", "keep_checkpoints", "resume", "out")
MISSING = object()


def first_difference(old: Any, new: Any, prefix: str = "") -> Optional[Tuple[str, Any, Any]]:
    """The first dotted key (in ``new``'s order, then ``old``'s) whose value differs, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(new) + [k for k in old if k not in new]:
            if not prefix and key == "run":
                continue
            found = first_difference(old.get(key, MISSING), new.get(key, MISSING), f"{prefix}{key}.")
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            a = old[i] if i < len(old) else MISSING
            b = new[i] if i < len(new) else MISSING
            found = first_difference(a, b, f"{prefix}{i}.")
            if found:
                return found
        return None
    return None if old == new else (prefix.rstrip("."), old, new)


def check_resumable(stored: Dict[str, Any], cfg: Dict[str, Any]) -> None:
    """Refuse (one line naming the first differing key) a config that would change the run's results."""
    found = first_difference(stored, cfg)
    if found is None:
        old_run = {k: v for k, v in stored.get("run", {}).items() if k not in RUNTIME_KEYS}
        new_run = {k: v for k, v in cfg["run"].items() if k not in RUNTIME_KEYS}
        found = first_difference(old_run, new_run, "run.")
    if found is not None:
        key, old, new = found
        show = lambda v: "(absent)" if v is MISSING else repr(v)  # noqa: E731
        raise SlotnasError(f"run.resume: {key} is {show(new)} here but {show(old)} in the run's config.yaml; "
                           f"only {', '.join('run.' + k for k in RUNTIME_KEYS[:-2])} may change "
                           "(start a new run for another config)")


def stored_config(run_dir: str) -> Dict[str, Any]:
    """The validated config.yaml of a run folder; one-line errors for a folder that is not a run."""
    from ..config import read_yaml, validate

    if not os.path.isdir(run_dir):
        raise SlotnasError(f"run.resume: {run_dir!r} is not a folder")
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.isfile(path):
        raise SlotnasError(f"run.resume: {run_dir!r} is not a run folder (no config.yaml)")
    return validate(read_yaml(path))
