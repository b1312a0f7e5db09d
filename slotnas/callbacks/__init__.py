"""Run callbacks: progress, reports and the winner's export, and users' own (``run.callbacks``)."""
from .base import Callback, CallbackList, load_callback, resolve_callback
from .progress import ProgressBar
from .reports import AlphasPlot, ParetoReport, plot_alphas
from .winner import WinnerExport

__all__ = ["Callback", "CallbackList", "load_callback", "resolve_callback", "ProgressBar", "ParetoReport", "AlphasPlot",
           "plot_alphas", "WinnerExport"]
