"""The report's figures as inline SVG from matplotlib (no scripts, no network: they render opened from disk)."""
from __future__ import annotations

import html
import io
import re
from typing import Dict, List, Optional, Sequence, Tuple

from ..pareto import costs, non_dominated_sort
from .data import RunData


def _figure(width: float = 6.4, height: float = 3.2):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def to_svg(fig, tooltips: Optional[Dict[str, str]] = None) -> str:  # type: ignore[no-untyped-def]
    """The figure as an <svg> element; ``tooltips`` maps artist gids to hover texts (SVG <title>)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):  # text as <text>: searchable, smaller than glyph paths
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    for gid, tip in (tooltips or {}).items():
        text = text.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{html.escape(tip)}</title>', 1)
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)


def objective_curve(data: RunData) -> Optional[str]:
    """The objective of every complete trial in order, and the best so far."""
    points = data.running_best()
    if not points:
        return None
    fig, ax = _figure()
    xs = [p[0] for p in points]
    ax.scatter(xs, [p[1] for p in points], s=14, alpha=0.6, label=data.objective)
    ax.step(xs, [p[2] for p in points], where="post", color="C3", label="best so far")
    ax.set_xlabel("epoch" if data.kind == "epoch" else "trial")
    ax.set_ylabel(data.objective)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return to_svg(fig)


def arch_text(arch: Dict[str, object]) -> str:
    """An architecture on one line (tensor parameters left out)."""
    return ", ".join(f"{k}={v}" for k, v in arch.items() if not isinstance(v, (list, dict)))


def pareto_plot(data: RunData) -> Optional[str]:
    """The first two objectives of every complete trial, the non-dominated ones joined; hover: the architecture."""
    objectives = data.objectives[:2]
    points: List[Tuple[int, Tuple[float, ...]]] = []
    for t in data.complete:
        vec = costs(t.metrics, objectives)
        if vec is not None:
            points.append((t.index, vec))
    if len(points) < 2:
        return None
    front = set(non_dominated_sort([v for _, v in points])[0])
    signs = [1 if o["mode"] == "min" else -1 for o in objectives]
    by_index = {t.index: t for t in data.complete}
    fig, ax = _figure(6.4, 3.6)
    tips = {}
    for k, (index, vec) in enumerate(points):
        x, y = (signs[0] * vec[0], signs[1] * vec[1])
        artist = ax.scatter([x], [y], s=30 if k in front else 14, color="C3" if k in front else "C0",
                            alpha=0.9 if k in front else 0.5)
        artist.set_gid(f"trial-{index}")
        tips[f"trial-{index}"] = f"trial {index}: {objectives[0]['metric']} {x:.4g}, {objectives[1]['metric']} " \
                                 f"{y:.4g}\n{arch_text(by_index[index].arch)}"
    ordered = sorted((signs[0] * points[k][1][0], signs[1] * points[k][1][1]) for k in front)
    ax.plot([p[0] for p in ordered], [p[1] for p in ordered], color="C3", lw=1, drawstyle="steps-post")
    ax.set_xlabel(f"{objectives[0]['metric']} ({objectives[0]['mode']})")
    ax.set_ylabel(f"{objectives[1]['metric']} ({objectives[1]['mode']})")
    ax.grid(alpha=0.3)
    return to_svg(fig, tips)


def alphas_plot(data: RunData, names: Dict[str, Sequence[str]], most: int = 12) -> Optional[str]:
    """For a one-shot run: each slot's softmaxed alphas over the epochs (up to ``most`` slots)."""
    series = [t.metrics.get("alphas") for t in sorted(data.trials, key=lambda t: t.index)]
    series = [s for s in series if isinstance(s, dict)]
    if not series:
        return None
    params = list(series[-1])[:most]
    cols = min(3, len(params))
    rows = (len(params) + cols - 1) // cols
    fig, axes = _figure(3.2 * cols, 2.2 * rows)
    fig.clf()
    for k, param in enumerate(params):
        ax = fig.add_subplot(rows, cols, k + 1)
        values = [s[param] for s in series if param in s]
        labels = list(names.get(param) or [str(i) for i in range(len(values[-1]))])
        for i in range(len(values[-1])):
            ax.plot(range(1, len(values) + 1), [v[i] for v in values],
                    label=labels[i] if i < len(labels) else str(i))
        ax.set_title(param, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.axes[0].legend(fontsize=6, loc="best")
    fig.tight_layout()
    return to_svg(fig)


def importance_plot(values: Sequence[Tuple[str, float]]) -> str:
    """Horizontal bars: each parameter's share of the importance."""
    fig, ax = _figure(6.4, 0.3 * len(values) + 0.8)
    ax.barh([n for n, _ in values][::-1], [v for _, v in values][::-1], color="C2")
    ax.set_xlabel("share of random-forest impurity importance")
    ax.tick_params(labelsize=8)
    return to_svg(fig)


def cell_plot(group: str, cell: Dict[str, object]) -> Optional[str]:
    """A searched cell as a DAG (DARTS-style): its two inputs, intermediate nodes, the kept edges labelled
    with their operations, and the output (concatenation of the nodes, or the last node)."""
    nodes = cell.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        return None
    n = len(nodes)
    position = {"c_{k-2}": (0.0, 1.0), "c_{k-1}": (0.0, -1.0), "out": (n + 1.0, 0.0)}
    position.update({f"node{j}": (j + 1.0, 0.8 if j % 2 else -0.8) for j in range(n)})
    fig, ax = _figure(1.6 * (n + 2), 3.0)
    for j, edges in enumerate(nodes):
        for edge in edges:  # type: ignore[union-attr]
            start, end = position.get(str(edge["from"])), position[f"node{j}"]
            if start is None:
                continue
            ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="C0", lw=1,
                                                                  connectionstyle="arc3,rad=0.15",
                                                                  shrinkA=14, shrinkB=14))
            ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, str(edge["op"]), fontsize=7,
                    ha="center", color="C0")
    outputs = [f"node{j}" for j in range(n)] if "concat" in str(cell.get("output", "concat")) else [f"node{n - 1}"]
    for name in outputs:
        ax.annotate("", xy=position["out"], xytext=position[name],
                    arrowprops=dict(arrowstyle="->", color="0.6", lw=0.8, ls="--", shrinkA=14, shrinkB=14))
    for name, (x, y) in position.items():
        label = "c_{k}" if name == "out" else name
        ax.text(x, y, label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", fc="#eef3fb" if name.startswith("node") else "#f3f3f3", ec="0.5"))
    ax.set_xlim(-0.6, n + 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.axis("off")
    ax.set_title(f"{group} cell", fontsize=9)
    return to_svg(fig)


MOTIF_EDGE = re.compile(r"^(graph|motif\d+\.\d+)\.edge(\d+)_(\d+)$")


def motif_plots(arch: Dict[str, object], zero: Sequence[str] = ("NIL", "none", "zero", "ZERO")) -> List[str]:
    """A hierarchical architecture drawn level by level: the top graph, then each motif it uses (and the
    motifs those use), every chosen edge labelled with its operation or motif; no-edge choices left out."""
    patterns: Dict[str, Dict[Tuple[int, int], str]] = {}
    for name, value in arch.items():
        found = MOTIF_EDGE.match(name)
        if found and isinstance(value, str):
            patterns.setdefault(found.group(1), {})[(int(found.group(2)), int(found.group(3)))] = value
    if "graph" not in patterns:
        return []
    order, queue = [], ["graph"]
    while queue:  # the patterns the chosen architecture reaches, top first
        name = queue.pop(0)
        if name in order or name not in patterns:
            continue
        order.append(name)
        queue += sorted({v for v in patterns[name].values() if v in patterns}, reverse=True)
    return [_pattern_plot(name, patterns[name], zero) for name in order]


def _pattern_plot(name: str, edges: Dict[Tuple[int, int], str], zero: Sequence[str]) -> str:
    n = max(j for _, j in edges) + 1
    fig, ax = _figure(max(4.0, 1.1 * n), 2.6)
    for i in range(n - 1):  # a chain's consecutive edges that are not parameters are fixed operations
        if (i, i + 1) not in edges:
            ax.annotate("", xy=(i + 1, 0), xytext=(i, 0), arrowprops=dict(arrowstyle="->", color="0.6", lw=0.8,
                                                                          ls="--", shrinkA=9, shrinkB=9))
    for k, ((i, j), op) in enumerate(sorted(edges.items())):
        if op in zero:
            continue
        rad = 0.0 if j - i == 1 else (0.45 if k % 2 else -0.45)
        color = "C1" if op.startswith("motif") else "C0"
        ax.annotate("", xy=(j, 0), xytext=(i, 0), arrowprops=dict(arrowstyle="->", color=color, lw=1,
                                                                  connectionstyle=f"arc3,rad={rad}",
                                                                  shrinkA=9, shrinkB=9))
        bend = -rad * (j - i) / 2  # the arc's height at its middle: the label sits just outside it
        ax.text((i + j) / 2, bend + (0.08 if bend >= 0 else -0.08), op, fontsize=7, ha="center",
                va="bottom" if bend >= 0 else "top", color=color)
    for i in range(n):
        ax.text(i, 0, str(i), ha="center", va="center", fontsize=8, bbox=dict(boxstyle="circle", fc="#eef3fb", ec="0.5"))
    span = 0.45 * (n - 1) / 2 + 0.4
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(-span, span)
    ax.axis("off")
    ax.set_title(f"{name} (motifs in orange, dashed: fixed operations)" if name == "graph" else name, fontsize=9)
    return to_svg(fig)
