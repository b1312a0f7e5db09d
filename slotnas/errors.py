"""Exceptions for user errors; the CLI prints them as one line."""
from contextlib import contextmanager
from typing import Iterator


class SlotnasError(Exception):
    """A user-facing error whose message is one line naming the culprit and the allowed values."""


class ParamError(SlotnasError, ValueError):
    """A parameter name or value is not allowed."""


class SlotError(SlotnasError, RuntimeError):
    """A Slot is used before it holds a module, or cannot be built."""


class HandlerError(SlotnasError, RuntimeError):
    """A transform handler raised while reacting to a parameter update."""


# The default of ``run.catch``: exceptions that make a FAILED trial when raised while an architecture
# trains, is evaluated or measured (a NaN loss, a shape mismatch in a candidate's forward, out of
# memory, an export error). Anything else stops the run.
ARCHITECTURE_FAILURES = ("RuntimeError", "ValueError", "ArithmeticError", "MemoryError")


@contextmanager
def blame(key_path: str) -> Iterator[None]:
    """Re-raise an exception from building what ``key_path`` configures as a one-line SlotnasError naming it.

    For errors that only the builder can find (a template whose shapes do not fit, a user model whose
    constructor raises, a dataset that cannot be split); the original stays as ``__cause__`` for --debug.
    """
    try:
        yield
    except SlotnasError:
        raise
    except Exception as exc:
        message = " ".join(str(exc).split())
        message = message if len(message) <= 300 else message[:297] + "..."
        raise SlotnasError(f"{key_path}: {type(exc).__name__}" + (f": {message}" if message else "")) from exc
