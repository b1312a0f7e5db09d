"""Run folder: resolved config, results.jsonl appended as results arrive, best architecture files."""
from __future__ import annotations

import datetime
import json
import os
from typing import Any, Dict, Optional

import yaml

from .errors import SlotnasError


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


class Journal:
    """One run folder ``<out>/<timestamp>/``; every write lands on disk immediately."""

    def __init__(self, out: str = "runs", config: Optional[Dict[str, Any]] = None, name: Optional[str] = None,
                 resume: Optional[str] = None) -> None:
        if resume is not None:
            if not os.path.isfile(os.path.join(resume, "results.jsonl")):
                raise SlotnasError(f"run.resume: {resume!r} is not a run folder with results.jsonl")
            self.dir = resume
        else:
            stamp = name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            path = os.path.join(out, stamp)
            suffix = 1
            while os.path.exists(path):
                path = os.path.join(out, f"{stamp}-{suffix}")
                suffix += 1
            os.makedirs(path)
            self.dir = path
        self.count = len(self.records())
        if config is not None:
            self.write_yaml("config.yaml", config)

    def records(self) -> list:
        """Every record appended so far (empty for a new run)."""
        return read_results(self.dir) if os.path.isfile(self.path("results.jsonl")) else []

    def path(self, name: str) -> str:
        """Path of a file inside the run folder."""
        return os.path.join(self.dir, name)

    def append(self, record: Dict[str, Any]) -> None:
        """Append one JSON line to results.jsonl and flush it to disk."""
        with open(self.path("results.jsonl"), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(_plain(record), default=str) + "\n")
        self.count += 1

    def write_yaml(self, name: str, data: Any) -> str:
        """Write ``data`` as YAML (safe dump) and return the path."""
        path = self.path(name)
        with open(path, "w", encoding="utf-8") as fh:
            yaml.safe_dump(_plain(data), fh, sort_keys=False)
        return path


def read_results(run_dir: str) -> list:
    """All records of a run's results.jsonl."""
    with open(os.path.join(run_dir, "results.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
