"""The trial runtime: store-backed ask/tell loop, executors (inline, local processes, Ray), resume."""
from .context import Run, SearchResult
from .search import resume, run_search, search

__all__ = ["Run", "SearchResult", "search", "resume", "run_search"]
