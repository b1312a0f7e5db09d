"""Several runs side by side: ``slotnas runs`` (a table of run folders) and ``slotnas compare`` (one page)."""
from __future__ import annotations

import html
import os
from typing import Any, Dict, List, Optional, Sequence

from ..errors import SlotnasError
from ..files import run_in_use, write_text
from ..pareto import costs, non_dominated_sort
from ..summary import format_value
from .data import RunData, load_run, run_finished
from .figures import _figure, to_svg
from .page import SCRIPT, STYLE, _table


def run_folders(parent: str) -> List[str]:
    """The run folders directly under ``parent`` (they hold a config.yaml), oldest first."""
    if not os.path.isdir(parent):
        raise SlotnasError(f"runs: {parent!r} is not a folder")
    names = sorted(n for n in os.listdir(parent) if os.path.isfile(os.path.join(parent, n, "config.yaml")))
    return [os.path.join(parent, n) for n in names]


def status(run_dir: str) -> str:
    """finished, running (a process holds it) or stopped (interrupted: ``slotnas resume`` continues it)."""
    if run_in_use(run_dir):
        return "running"
    return "finished" if run_finished(run_dir) else "stopped"


def run_row(data: RunData) -> Dict[str, Any]:
    """One run as a row: name, optimizer, estimator, status, trials, best objective, compute time."""
    ranked = data.ranked()
    return {"run": os.path.basename(os.path.normpath(data.run_dir)),
            "optimizer": data.config.get("optim", {}).get("type"), "estimator": data.config.get("estim", {}).get("type"),
            "status": status(data.run_dir), "trials": f"{len(data.complete)}/{len(data.trials)}",
            "objective": data.objective, "best": ranked[0].metrics[data.objective] if ranked else None,
            "seconds": round(sum(t.seconds or 0 for t in data.trials), 1)}


def runs_text(parent: str) -> str:
    """``slotnas runs``: an aligned text table of the run folders under ``parent``."""
    rows = [run_row(load_run(d)) for d in run_folders(parent)]
    if not rows:
        return f"no run folders in {parent}"
    headers = list(rows[0])
    cells = [[format_value(r[h]) if r[h] is not None else "-" for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _curves(runs: Sequence[RunData]) -> Optional[str]:
    fig, ax = _figure()
    drawn = False
    for data in runs:
        points = data.running_best()
        if points:
            ax.step(range(1, len(points) + 1), [p[2] for p in points], where="post",
                    label=os.path.basename(os.path.normpath(data.run_dir)))
            drawn = True
    if not drawn:
        return None
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"best {runs[0].objective} so far")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return to_svg(fig)


def _fronts(runs: Sequence[RunData]) -> Optional[str]:
    objectives = runs[0].objectives[:2]
    signs = [1 if o["mode"] == "min" else -1 for o in objectives]
    fig, ax = _figure(6.4, 3.6)
    drawn = False
    for data in runs:
        vecs = [v for v in (costs(t.metrics, objectives) for t in data.complete) if v is not None]
        if vecs:
            front = sorted(vecs[i] for i in non_dominated_sort(vecs)[0])
            ax.plot([signs[0] * v[0] for v in front], [signs[1] * v[1] for v in front], marker="o", ms=4,
                    drawstyle="steps-post", label=os.path.basename(os.path.normpath(data.run_dir)))
            drawn = True
    if not drawn:
        return None
    ax.set_xlabel(f"{objectives[0]['metric']} ({objectives[0]['mode']})")
    ax.set_ylabel(f"{objectives[1]['metric']} ({objectives[1]['mode']})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return to_svg(fig)


def compare_page(run_dirs: Sequence[str]) -> str:
    """One self-contained page: the runs' table, best-so-far curves and Pareto fronts on shared axes."""
    runs = [load_run(d) for d in run_dirs]
    rows = [run_row(r) for r in runs]
    sections = [("Runs", _table(list(rows[0]), [list(r.values()) for r in rows])),
                (f"Best {runs[0].objective} so far", _curves(runs)),
                (f"Pareto fronts ({runs[0].objectives[0]['metric']} vs {runs[0].objectives[1]['metric']})",
                 _fronts(runs) if len(runs[0].objectives) >= 2 else None)]
    body = "".join(f"<h2>{html.escape(t)}</h2>{c}" for t, c in sections if c)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>slotnas: {len(runs)} runs compared</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body><h1>{len(runs)} runs compared</h1>"
            f"{body}</body></html>")


def write_compare(run_dirs: Sequence[str], out: str) -> str:
    """Write :func:`compare_page` to ``out`` atomically."""
    return write_text(out, compare_page(run_dirs))
