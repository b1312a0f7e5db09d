"""Report files of a finished search: the Pareto front (pareto.csv / .png) and one-shot alphas (alphas.png)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Dict, List, Sequence

from ..files import atomic_write
from ..pareto import pareto_front, run_objectives, write_pareto
from ..trials import Trial, TrialState
from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult


class ParetoReport(Callback):
    """Writes the non-dominated trials to pareto.csv and, for two or more objectives, pareto.png."""

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        objectives = run_objectives(run.config, run.optimizer.objective, run.optimizer.mode)
        done = [t for t in result.trials if t.state is TrialState.COMPLETE]
        pairs = [(t.arch, t.metrics) for t in done]
        front = pareto_front(pairs, objectives)
        by_id = {id(t.metrics): t for t in done}
        result.objectives = objectives
        result.pareto = [by_id[id(m)] for _, m in front]
        write_pareto(front, pairs, objectives, run.path("pareto.csv"), run.path("pareto.png"))


class AlphasPlot(Callback):
    """For one-shot runs: alphas.png, the softmaxed alpha of each candidate over the epochs."""

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        ops = getattr(run.optimizer, "ops", None)
        if run.optimizer.kind != "gradient" or not ops:
            return
        plot_alphas(result.trials, {op.alpha.name: op.names for _, op in ops}, run.path("alphas.png"))


def plot_alphas(trials: Sequence[Trial], names: Dict[str, List[str]], path: str) -> None:
    """One panel per architecture parameter: softmaxed alpha of each candidate over the epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = [p for p in names if all(p in t.metrics.get("alphas", {}) for t in trials)]
    if not params or not trials:
        return
    cols = min(4, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, sharey=True)
    for ax, param in zip(axes.flat, params):
        series = [t.metrics["alphas"][param] for t in trials]
        for i, candidate in enumerate(names[param]):
            ax.plot(range(1, len(series) + 1), [s[i] for s in series], label=candidate)
        ax.set_title(param, fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
    for ax in list(axes.flat)[len(params):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
