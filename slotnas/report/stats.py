"""Numbers a report derives from the trials: per-slot choice statistics and parameter importance."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from .data import RunData


def choice_params(data: RunData) -> List[str]:
    """Architecture parameters with discrete values (strings, ints, bools) in the complete trials."""
    trials = data.complete
    if not trials:
        return []
    names = [n for n in trials[0].arch if all(not isinstance(t.arch.get(n), float) for t in trials)]
    return [n for n in names if not isinstance(trials[0].arch[n], (list, dict))]


def slot_stats(data: RunData, top_fraction: float = 0.2) -> List[Dict[str, Any]]:
    """Per parameter and choice: its share among the top trials and among all, and the mean objective of
    the trials that chose it (in the objective's units)."""
    ranked = data.ranked()
    if not ranked:
        return []
    top = ranked[: max(1, math.ceil(top_fraction * len(ranked)))]
    sign = 1 if data.mode == "max" else -1
    rows = []
    for name in choice_params(data):
        for choice in sorted({str(t.arch[name]) for t in ranked}):
            chose = [t for t in ranked if str(t.arch[name]) == choice]
            rows.append({"param": name, "choice": choice, "top": sum(str(t.arch[name]) == choice for t in top) / len(top),
                         "all": len(chose) / len(ranked),
                         "mean": sign * sum(data.score(t) for t in chose) / len(chose)})  # type: ignore[misc]
    return rows


def importance(data: RunData, seed: int = 0) -> Optional[List[Tuple[str, float]]]:
    """Random-forest impurity importance (scikit-learn) of each parameter for the objective, summed over
    its one-hot columns and normalized to 1; None with fewer than 8 complete trials or one parameter."""
    trials = data.complete
    names = [n for n in (trials[0].arch if trials else {}) if not isinstance(trials[0].arch[n], (list, dict))]
    if len(trials) < 8 or len(names) < 2:
        return None
    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    columns, owner = [], []
    for name in names:
        values = [t.arch[name] for t in trials]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            columns.append(np.array(values, dtype=float))
            owner.append(name)
        else:
            for choice in sorted({str(v) for v in values}):
                columns.append(np.array([str(v) == choice for v in values], dtype=float))
                owner.append(name)
    x = np.column_stack(columns)
    y = np.array([data.score(t) for t in trials], dtype=float)
    forest = RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1).fit(x, y)
    totals: Dict[str, float] = {}
    for name, value in zip(owner, forest.feature_importances_):
        totals[name] = totals.get(name, 0.0) + float(value)
    norm = sum(totals.values()) or 1.0
    return sorted(((n, v / norm) for n, v in totals.items()), key=lambda nv: -nv[1])
