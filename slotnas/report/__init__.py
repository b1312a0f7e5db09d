"""Reports of a run folder: one self-contained HTML page (``slotnas report``)."""
from .data import RunData, load_run, run_finished
from .page import render, write_report

__all__ = ["RunData", "load_run", "run_finished", "render", "write_report"]
