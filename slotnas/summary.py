"""Text views of a run for people: the results table, one line per trial, the header, results.csv rows."""
from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Sequence

from .estim.base import arch_label
from .params import ParamSpace
from .trials import Trial, TrialState

if TYPE_CHECKING:
    from .runtime.context import SearchResult


def space_log10(space: ParamSpace) -> float:
    """log10 of the number of architectures (parameter assignments) a space holds."""
    return sum(math.log10(p.size()) for p in space if 0 < p.size() < math.inf)  # continuous ones not counted


def format_value(value: Any) -> str:
    """A metric as people read it: integers with separators, floats with 3 decimals."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:.3f}"


def trial_line(trial: Trial, objective: str) -> str:
    """One readable line: index, state, objective, params, seconds, architecture (or the error)."""
    parts = [f"trial {trial.index:>4}", f"{trial.state.value:<8}"]
    if trial.fidelity is not None:
        parts.append(f"@{trial.fidelity:g}")
    for name in dict.fromkeys([objective, "params", "latency_ms"]):
        if name in trial.metrics:
            parts.append(f"{name} {format_value(trial.metrics[name])}")
    if trial.seconds is not None:
        parts.append(f"{trial.seconds:.1f} s")
    label = arch_label(trial.arch)
    parts.append(label if len(label) <= 100 else label[:97] + "...")
    if trial.state is TrialState.FAILED and trial.error:
        error = " ".join(trial.error.split())
        parts.append(f"error: {error[:160]}")
    return "  ".join(parts)


def state_counts(states: Mapping[str, int]) -> str:
    """Trials by state as text, e.g. ``3 COMPLETE, 1 PRUNED``; empty when there are none."""
    return ", ".join(f"{states[s]} {s}" for s in ("COMPLETE", "PRUNED", "FAILED", "RUNNING") if states.get(s))


def results_table(trials: Sequence[Trial], ranked: Sequence[Trial], objective: str, top: int = 10) -> str:
    """Text table of the ``top`` of ``ranked`` (best first): rank, trial, objective, params, latency if measured."""
    has_latency = objective != "latency_ms" and any("latency_ms" in t.metrics for t in ranked)
    has_params = objective != "params"
    header = f"{'rank':>4}  {'trial':>5}  {objective:>8}" + (f"  {'params':>9}" if has_params else "")
    header += "  latency_ms" if has_latency else ""
    header += "  architecture"
    lines = [header, "-" * len(header)]
    for rank, t in enumerate(ranked[:top], 1):
        m = t.metrics
        params = "" if not has_params else f"  {m['params']:>9,}" if "params" in m else f"  {'-':>9}"
        latency = ""
        if has_latency:
            latency = f"  {m['latency_ms']:>10.3f}" if "latency_ms" in m else " " * 12
        value = f"{m[objective]:>8,}" if isinstance(m[objective], int) else f"{m[objective]:>8.3f}"
        lines.append(f"{rank:>4}  {t.index:>5}  {value}{params}{latency}  {arch_label(t.arch)}")
    states = Counter(t.state.value for t in trials)
    counts = state_counts(states)
    notes = []
    if states["PRUNED"]:
        notes.append("PRUNED: stopped early by the scheduler")
    unscored = states["COMPLETE"] - sum(1 for t in ranked if t.state.value == "COMPLETE")
    if states["FAILED"] or unscored > 0:
        notes.append(f"failed or without {objective}: see results.jsonl")
    lines.append(f"trials: {counts or 'none'}" + (f" ({'; '.join(notes)})" if notes else ""))
    return "\n".join(lines)



def flat_rows(trials: Iterable[Trial]) -> List[Dict[str, Any]]:
    """One flat dict per trial for results.csv: its fields, ``arch.<param>`` and ``<metric>`` columns
    (tensor parameters such as DARTS alphas and non-scalar metrics are left to results.jsonl)."""
    rows = []
    for t in trials:
        row: Dict[str, Any] = {"index": t.index, "kind": t.kind, "state": t.state.value, "fidelity": t.fidelity,
                               "seconds": None if t.seconds is None else round(t.seconds, 3), "worker": t.worker}
        row.update({f"arch.{k}": v for k, v in t.arch.items() if isinstance(v, (str, int, float, bool))})
        row.update({k: v for k, v in t.metrics.items() if isinstance(v, (str, int, float, bool)) or v is None})
        row["error"] = t.error
        rows.append(row)
    return rows


def summary_text(result: "SearchResult") -> str:
    """The results table and the winner's line, as the CLI prints them and summary.txt keeps them."""
    lines = [results_table(result.trials, result.ranked, result.objective)]
    if result.best is not None:
        best = result.best_metrics.get(result.objective)
        line = f"best: trial {result.best.index}, {result.objective} {format_value(best)}"
        if result.final_metrics:
            line += "; retrained: " + ", ".join(f"{k} {v:.3f}" for k, v in result.final_metrics.items()
                                                if k.endswith("_acc"))
        lines.append(line)
    else:
        lines.append(f"best: none (no trial has {result.objective})")
    return "\n".join(lines)
