"""``slotnas report``: one self-contained HTML page of a run (styles, scripts and figures inline; no network)."""
from __future__ import annotations

import html
import os
from typing import Any, Dict, List, Optional, Sequence

from ..files import write_text
from ..summary import format_value, state_counts
from .data import RunData, load_run
from .figures import alphas_plot, arch_text, cell_plot, importance_plot, motif_plots, objective_curve, pareto_plot
from .stats import importance, slot_stats

STYLE = """body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px}td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left}
th{cursor:pointer;background:#f6f6f6}.num{text-align:right}input{margin:6px 0;padding:4px;width:320px}
.kv td:first-child{color:#666}.bar{background:#4a90d9;height:10px;display:inline-block}"""

SCRIPT = """function sortBy(th){const t=th.closest('table'),i=[...th.parentNode.children].indexOf(th),
b=t.tBodies[0],r=[...b.rows],d=th.dataset.dir=th.dataset.dir==='asc'?'desc':'asc';
r.sort((x,y)=>{const a=x.cells[i].dataset.v??x.cells[i].textContent,c=y.cells[i].dataset.v??y.cells[i].textContent,
n=parseFloat(a)-parseFloat(c);const v=isNaN(n)?a.localeCompare(c):n;return d==='asc'?v:-v});r.forEach(x=>b.appendChild(x))}
function filterRows(box){const q=box.value.toLowerCase();for(const r of document.getElementById('board').tBodies[0].rows)
r.style.display=r.textContent.toLowerCase().includes(q)?'':'none'}"""


def _cell(value: Any) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (f'<td class="num" data-v="{value}">{html.escape(format_value(value))}</td>' if number
            else f"<td>{html.escape('' if value is None else str(value))}</td>")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str = "") -> str:
    head = "".join(f'<th onclick="sortBy(this)">{html.escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _summary(data: RunData) -> str:
    ranked = data.ranked()
    best = ranked[0] if ranked else None
    seconds = sum(t.seconds or 0 for t in data.trials)
    rows = [("run folder", data.run_dir), ("optimizer", data.config.get("optim", {}).get("type")),
            ("estimator", data.config.get("estim", {}).get("type")),
            ("objective", f"{data.objective} ({data.mode})"),
            ("trials", state_counts(data.states) or "none yet"),
            ("compute time", f"{seconds:,.1f} s in trials"),
            ("best so far", "none yet" if best is None else
             f"trial {best.index}: {data.objective} {format_value(best.metrics[data.objective])}")]
    final = (data.best_arch or {}).get("final_metrics")
    if final:
        rows.append(("winner retrained", ", ".join(f"{k} {format_value(v)}" for k, v in final.items()
                                                   if isinstance(v, (int, float)))))
    return '<table class="kv">' + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                                         for k, v in rows) + "</table>"


def _leaderboard(data: RunData) -> str:
    trials = sorted(data.trials, key=lambda t: t.index)
    metrics: List[str] = []
    for t in trials:
        metrics += [k for k, v in t.metrics.items() if isinstance(v, (int, float)) and k not in metrics]
    order = [data.objective] + [m for m in metrics if m != data.objective]
    rows = [[t.index, t.state.value, *[t.metrics.get(m) for m in order], t.seconds,
             t.error or arch_text(t.arch)] for t in trials]
    return ('<input placeholder="filter (e.g. SC5, FAILED)" oninput="filterRows(this)">'
            + _table(["trial", "state", *order, "seconds", "architecture or error"], rows, "board"))


def _slots(data: RunData) -> Optional[str]:
    rows = slot_stats(data)
    if not rows:
        return None
    return ("<p>Share of each choice among the top 20 % of trials and among all, and the mean "
            f"{html.escape(data.objective)} of the trials that chose it.</p>"
            + _table(["parameter", "choice", "share in top", "share in all", f"mean {data.objective}"],
                     [[r["param"], r["choice"], round(r["top"], 3), round(r["all"], 3), r["mean"]] for r in rows]))


def _best(data: RunData) -> Optional[str]:
    best = data.best_arch
    if not best:
        return None
    arch = best.get("arch") or {}
    rows = [[k, v] for k, v in arch.items() if not isinstance(v, (list, dict))]
    out = _table(["parameter", "chosen"], rows)
    genotype = best.get("genotype") or {}
    cells = [cell_plot(group, cell) for group, cell in genotype.items() if isinstance(cell, dict)]
    return "".join(c for c in cells + motif_plots(arch) if c) + out


def _rungs(data: RunData) -> Optional[str]:
    """For a multi-fidelity run: how many trials reached each rung and how many went on to the next."""
    levels = sorted({t.fidelity for t in data.trials if t.fidelity is not None})
    if len(levels) < 2:
        return None
    reached = [sum(1 for t in data.trials if t.fidelity is not None and t.fidelity >= level) for level in levels]
    rows = [[level, count, reached[i + 1] if i + 1 < len(levels) else None,
             sum(1 for t in data.trials if t.fidelity == level and t.state.value == "PRUNED")]
            for i, (level, count) in enumerate(zip(levels, reached))]
    return _table(["rung (fidelity)", "trials reaching it", "promoted to the next", "stopped there (PRUNED)"], rows)


def _candidate_names(data: RunData) -> Dict[str, List[str]]:
    """Candidate names of a one-shot run's parameters, when the config lists them for every slot."""
    steps = data.config.get("construct") or []
    names = next((s.get("candidates") for s in steps if isinstance(s, dict) and s.get("candidates")), None)
    if names is None:
        details = (data.config.get("template") or {}).get("cell_groups_details") or {}
        names = details.get("primitive_operations")
    last = next((t.metrics.get("alphas") for t in reversed(data.trials) if isinstance(t.metrics.get("alphas"), dict)), {})
    return {p: list(names) for p, v in last.items() if names and len(v) == len(names)}


def render(data: RunData) -> str:
    """The report page of ``data``."""
    sections = [("Run", _summary(data)), ("Objective over the search", objective_curve(data))]
    if len(data.objectives) >= 2:
        sections.append((f"Pareto front ({data.objectives[0]['metric']} vs {data.objectives[1]['metric']}; "
                         "hover a point for its architecture)", pareto_plot(data)))
    sections.append(("Best architecture", _best(data)))
    if data.kind == "epoch":
        sections.append(("Architecture weights over the epochs (softmax of the alphas)",
                         alphas_plot(data, _candidate_names(data))))
    else:
        sections.append(("Multi-fidelity rungs", _rungs(data)))
        sections.append(("Choices per slot", _slots(data)))
        values = importance(data)
        if values:
            sections.append(("Parameter importance (random forest, scikit-learn)", importance_plot(values)))
    sections.append(("All trials (click a column to sort)", _leaderboard(data)))
    body = "".join(f"<h2>{html.escape(title)}</h2>{content}" for title, content in sections if content)
    title = f"slotnas run {os.path.basename(os.path.normpath(data.run_dir))}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body><h1>{html.escape(title)}</h1>"
            f"{body}</body></html>")


def write_report(run_dir: str, out: Optional[str] = None, store: Any = None) -> str:
    """Write the run's report (default ``RUN_DIR/report.html``) atomically; returns its path. ``store``:
    the running process's own trial store (else the journal is read)."""
    path = out or os.path.join(run_dir, "report.html")
    return write_text(path, render(load_run(run_dir, store)))
