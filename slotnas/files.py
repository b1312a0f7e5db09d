"""Run folders and atomic file writes: a kill never leaves a half-written file behind."""
from __future__ import annotations

import datetime
import os
import tempfile
from typing import Any, Callable, Optional

import yaml

from .errors import SlotnasError
from .trials import plain


def make_run_dir(out: str, name: Optional[str] = None) -> str:
    """Create and return a new ``<out>/<timestamp>`` folder (suffixed -1, -2, ... if taken)."""
    stamp = name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, stamp)
    suffix = 1
    while True:
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            path = os.path.join(out, f"{stamp}-{suffix}")
            suffix += 1


LOCK = ".lock"


def lock_run_dir(folder: str) -> Any:
    """Hold an exclusive lock on a run folder while this process works in it (released when the
    returned file is closed or the process dies, even by SIGKILL); a second holder gets one line.
    Needs fcntl (Linux, macOS); elsewhere nothing is locked."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return None
    handle = open(os.path.join(folder, LOCK), "a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise SlotnasError(f"run.resume: {folder} is in use by {owner}; wait for it to end or stop it") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"slotnas pid {os.getpid()}")
    handle.flush()
    return handle


def run_in_use(folder: str) -> bool:
    """Whether a process holds the run folder's lock now (a search or resume working in it)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: nothing is locked
        return False
    path = os.path.join(folder, LOCK)
    if not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def remove_stale_temps(folder: str) -> None:
    """Delete temporary files that :func:`atomic_write` left behind when its process was killed."""
    for name in os.listdir(folder):
        if name.startswith(".") and name.endswith(".tmp"):
            os.remove(os.path.join(folder, name))


def atomic_write(path: str, write: Callable[[str], None]) -> str:
    """Call ``write(tmp_path)``, fsync the result and rename it to ``path`` (all or nothing)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def write_text(path: str, text: str) -> str:
    """Atomically write ``text`` (UTF-8) to ``path``."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write)


def write_yaml(path: str, data: Any) -> str:
    """Atomically write ``data`` as YAML (safe dump, key order kept)."""
    return write_text(path, yaml.safe_dump(plain(data), sort_keys=False))


def save_torch(path: str, obj: Any) -> str:
    """Atomically ``torch.save`` ``obj`` (a state dict: loadable with ``weights_only=True``)."""
    import torch

    return atomic_write(path, lambda tmp: torch.save(obj, tmp))
