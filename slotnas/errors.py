"""Exceptions for user errors; the CLI prints them as one line."""


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
