"""Run callbacks: progress, run log, reports and the winner's export, and users' own (``run.callbacks``)."""
from .base import Callback, CallbackList, load_callback, resolve_callback
from .guard import FailureGuard
from .live import LiveReport
from .progress import ProgressBar
from .reports import AlphasPlot, ParetoReport, plot_alphas
from .runlog import RunLog
from .winner import WinnerExport

__all__ = ["Callback", "CallbackList", "FailureGuard", "load_callback", "resolve_callback", "ProgressBar", "ParetoReport", "AlphasPlot",
           "plot_alphas", "RunLog", "WinnerExport", "LiveReport"]
