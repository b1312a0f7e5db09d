"""Reports of a run folder: one self-contained HTML page (``slotnas report``)."""
from .data import RunData, load_run
from .page import render, write_report

__all__ = ["RunData", "load_run", "render", "write_report"]
