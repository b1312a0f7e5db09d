"""User code a config names: ``plugins:`` (modules or .py files imported before validation, so the
components they register can be named in YAML) and ``file.py:attr`` where ``module:attr`` is allowed.
Relative paths in a config are resolved against the config file's folder when it is read.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any, Dict, List

from .errors import SlotnasError

# Config keys that hold a path (resolved against the config file's folder): section -> option.
PATH_OPTIONS = {"data": ("root",), "metrics": ("table",)}


def _is_stdlib(module: str) -> bool:
    top = module.split(".")[0]
    return top in getattr(sys, "stdlib_module_names", ()) or top in ("builtins", "__main__")


def import_file(path: str, key: str) -> ModuleType:
    """Import a .py file once (its module name is derived from its absolute path)."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise SlotnasError(f"{key}: file {path!r} not found")
    name = f"slotnas_plugin_{os.path.splitext(os.path.basename(path))[0]}_" \
           f"{hashlib.sha1(path.encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:
        del sys.modules[name]
        raise SlotnasError(f"{key}: importing {path!r} failed ({type(exc).__name__}: {exc})") from exc
    return module


def import_module(name: str, key: str, spec: str = "") -> ModuleType:
    """Import a module or .py file a config names (never one of the standard library); ``spec`` is what the
    user wrote, for messages (default ``name``)."""
    spec = spec or name
    if name.endswith(".py"):
        return import_file(name, key)
    if _is_stdlib(name):
        raise SlotnasError(f"{key}: {spec!r} names the Python standard library; allowed: a module of your own, "
                           "an installed package's module or a .py file")
    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError, or whatever the module's own code raised
        raise SlotnasError(f"{key}: cannot import {spec!r} ({type(exc).__name__}: {exc})") from None


def load_plugins(plugins: Any) -> None:
    """Import each entry of a config's ``plugins:`` list (idempotent)."""
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins):
        raise SlotnasError(f"plugins: expected a list of module names or .py files, got {plugins!r}")
    for i, name in enumerate(plugins):
        import_module(name, f"plugins[{i}]")


def resolve_paths(cfg: Dict[str, Any], folder: str) -> Dict[str, Any]:
    """Make the config's relative paths absolute against ``folder`` (the config file's): plugin files,
    ``file.py:attr`` specs (model.type, estim.fn, run.callbacks), data.root and metric tables; also put
    ``folder`` on the import path."""
    def absolute(path: str) -> str:
        return path if os.path.isabs(path) else os.path.normpath(os.path.join(folder, path))

    def spec(value: Any) -> Any:
        if isinstance(value, str) and ".py:" in value:
            path, _, attr = value.rpartition(":")
            return f"{absolute(path)}:{attr}"
        return value

    if folder not in sys.path:
        sys.path.insert(0, folder)  # module plugins and module:attr next to the config import as users expect
    plugins = cfg.get("plugins")
    if isinstance(plugins, list):
        cfg["plugins"] = [absolute(p) if isinstance(p, str) and p.endswith(".py") else p for p in plugins]
    for section, key in (("model", "type"), ("estim", "fn")):
        if isinstance(cfg.get(section), dict) and key in cfg[section]:
            cfg[section][key] = spec(cfg[section][key])
    run = cfg.get("run")
    if isinstance(run, dict) and isinstance(run.get("callbacks"), list):
        run["callbacks"] = [spec(c) for c in run["callbacks"]]
    for section, options in PATH_OPTIONS.items():
        entries: List[Any] = cfg.get(section) if isinstance(cfg.get(section), list) else [cfg.get(section)]
        for entry in entries:
            for option in options:
                if isinstance(entry, dict) and isinstance(entry.get(option), str):
                    entry[option] = absolute(entry[option])
    return cfg
