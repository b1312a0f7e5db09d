"""Multi-objective helpers: objectives, non-dominated sorting, crowding distance, Pareto output."""
from __future__ import annotations

import csv
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import SlotnasError

Objective = Dict[str, str]  # {"metric": name, "mode": "max" | "min"}
Result = Tuple[Dict[str, Any], Dict[str, Any]]


def check_objectives(objectives: Any) -> List[Objective]:
    """Validate ``[{metric, mode}, ...]`` (at least one; mode max or min)."""
    if not isinstance(objectives, list) or not objectives:
        raise SlotnasError("objectives: expected a non-empty list of {metric: NAME, mode: max|min}")
    out = []
    for i, obj in enumerate(objectives):
        if not isinstance(obj, dict) or set(obj) - {"metric", "mode"} or "metric" not in obj:
            raise SlotnasError(f"objectives[{i}]: expected {{metric: NAME, mode: max|min}}, got {obj!r}")
        mode = obj.get("mode", "max")
        if mode not in ("max", "min"):
            raise SlotnasError(f"objectives[{i}].mode: {mode!r} not allowed; allowed: max, min")
        out.append({"metric": str(obj["metric"]), "mode": mode})
    return out


def run_objectives(cfg: Mapping[str, Any], objective: str, mode: str) -> List[Objective]:
    """What a run's pareto.csv ranks: the config's objectives, else the optimizer's ``objective`` (and its
    ``mode``) against params."""
    return cfg.get("objectives") or [{"metric": objective, "mode": mode}, {"metric": "params", "mode": "min"}]


def costs(metrics: Mapping[str, Any], objectives: Sequence[Objective]) -> Optional[Tuple[float, ...]]:
    """The metrics as a vector to minimize; None if the result failed or lacks an objective."""
    if metrics.get("error"):
        return None
    vec = []
    for obj in objectives:
        value = metrics.get(obj["metric"])
        if not isinstance(value, (int, float)) or math.isnan(value):
            return None
        vec.append(-float(value) if obj["mode"] == "max" else float(value))
    return tuple(vec)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether cost vector ``a`` is no worse than ``b`` everywhere and better somewhere."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def non_dominated_sort(points: Sequence[Sequence[float]]) -> List[List[int]]:
    """Indices grouped into fronts (NSGA-II fast non-dominated sort)."""
    n = len(points)
    dominated_by: List[List[int]] = [[] for _ in range(n)]
    counts = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominated_by[i].append(j)
                counts[j] += 1
            elif dominates(points[j], points[i]):
                dominated_by[j].append(i)
                counts[i] += 1
    fronts, current = [], [i for i in range(n) if counts[i] == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in dominated_by[i]:
                counts[j] -= 1
                if counts[j] == 0:
                    following.append(j)
        current = following
    return fronts


def crowding_distance(points: Sequence[Sequence[float]], front: Sequence[int]) -> Dict[int, float]:
    """NSGA-II crowding distance of each index in ``front`` (extremes get infinity)."""
    distance = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: math.inf for i in front}
    for k in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: points[i][k])
        lo, hi = points[ordered[0]][k], points[ordered[-1]][k]
        distance[ordered[0]] = distance[ordered[-1]] = math.inf
        if hi == lo:
            continue
        for left, mid, right in zip(ordered, ordered[1:], ordered[2:]):
            distance[mid] += (points[right][k] - points[left][k]) / (hi - lo)
    return distance


def pareto_order(points: Sequence[Sequence[float]]) -> List[Tuple[int, int, float]]:
    """Indices of cost vectors best first, each with its (front rank, crowding distance): front by front,
    within a front the most spread-out first, a repeated cost vector only after every unique one."""
    order: List[Tuple[int, int, float]] = []
    for rank, front in enumerate(non_dominated_sort(points)):
        crowd = crowding_distance(points, front)
        seen: set = set()
        repeat = {}
        for i in sorted(front, key=lambda i: -crowd[i]):
            repeat[i] = tuple(points[i]) in seen
            seen.add(tuple(points[i]))
        order += [(i, rank, crowd[i]) for i in sorted(front, key=lambda i: (repeat[i], -crowd[i]))]
    return order


def pareto_front(history: Sequence[Result], objectives: Sequence[Objective]) -> List[Result]:
    """The non-dominated successful results, sorted by the first objective (best first)."""
    scored = [(r, costs(r[1], objectives)) for r in history]
    scored = [(r, c) for r, c in scored if c is not None]
    if not scored:
        return []
    front = non_dominated_sort([c for _, c in scored])[0]
    unique: Dict[Tuple, Result] = {}
    for i in front:
        unique.setdefault(scored[i][1] + (str(sorted(scored[i][0][0].items())),), scored[i][0])
    return sorted(unique.values(), key=lambda r: costs(r[1], objectives))


def write_pareto(front: Sequence[Result], history: Sequence[Result], objectives: Sequence[Objective],
                 csv_path: str, png_path: Optional[str] = None) -> None:
    """Write the front as CSV (objectives, then parameters) and, for 2+ objectives, a scatter plot (atomically)."""
    from .files import atomic_write

    names = [o["metric"] for o in objectives]
    params = sorted({k for arch, _ in front for k in arch})

    def write_csv(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(names + params)
            for arch, metrics in front:
                writer.writerow([metrics[n] for n in names] + [arch.get(p) for p in params])

    atomic_write(csv_path, write_csv)
    if png_path is None or len(objectives) < 2:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = names[0], names[1]
    everything = [(m[x], m[y]) for _, m in history if costs(m, objectives) is not None]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    if everything:
        ax.scatter(*zip(*everything), s=14, c="0.7", label="evaluated")
    ax.plot([m[x] for _, m in front], [m[y] for _, m in front], "o-", c="C3", label="Pareto front")
    ax.set_xlabel(f"{x} ({objectives[0]['mode']})")
    ax.set_ylabel(f"{y} ({objectives[1]['mode']})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(png_path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
