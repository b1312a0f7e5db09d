"""slotnas report: one self-contained HTML page of a run (discrete, multi-objective, one-shot)."""
import os
import re
from html.parser import HTMLParser

from slotnas.cli import main
from slotnas.report import load_run, render, write_report
from slotnas.report.data import RunData
from slotnas.report.stats import importance, slot_stats
from slotnas.runtime.search import run_search
from slotnas.trials import Trial

from .helpers import tiny_config


class Tags(HTMLParser):
    """Collects tags and the URLs they would load."""

    def __init__(self):
        super().__init__()
        self.tags, self.urls = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    return tags


def test_a_discrete_run_gets_a_self_contained_page(tmp_path, capsys):
    result = run_search(tiny_config(tmp_path, run={"budget": 5}))
    assert main(["report", result.run_dir]) == 0
    path = os.path.join(result.run_dir, "report.html")
    assert capsys.readouterr().out.strip() == f"wrote {path}"
    page = open(path).read()
    tags = parse(page)
    assert tags.urls == [] and "link" not in tags.tags  # nothing fetched: styles, script and figures are inline
    assert tags.tags.count("svg") >= 1 and "script" in tags.tags
    for heading in ("Run", "Objective over the search", "Best architecture", "Choices per slot", "All trials"):
        assert f"<h2>{heading}" in page
    board = page[page.index('id="board"'):]
    assert len(re.findall(r"<tr><td class=\"num\" data-v=\"\d+\">", board)) == 5  # one row per trial
    assert f"trial {result.best.index}: val_acc" in page


def test_a_multi_objective_run_shows_its_front_with_architectures_on_hover(tmp_path):
    cfg = tiny_config(tmp_path, objectives=[{"metric": "val_acc", "mode": "max"}, {"metric": "params", "mode": "min"}],
                      optim={"type": "NSGA2", "population": 4}, run={"budget": 5})
    result = run_search(cfg)
    page = render(load_run(result.run_dir))
    assert "<h2>Pareto front (val_acc vs params" in page
    titles = re.findall(r"<title>(trial \d+: val_acc [^<]*)</title>", page)
    assert len(titles) == len([t for t in result.trials if t.state.value == "COMPLETE"])
    assert all("cells.0=" in t for t in titles)


def test_a_one_shot_run_shows_its_alphas_over_the_epochs(tmp_path):
    cfg = tiny_config(tmp_path, construct=[{"type": "mixed_op", "mixed": "weighted_sum", "candidates": ["NC3", "SC3", "IDT"]}],
                      optim={"type": "DARTS"}, estim={"type": "SuperNetEstim", "epochs": 2})
    result = run_search(cfg)
    path = write_report(result.run_dir, str(tmp_path / "r.html"))
    page = open(path).read()
    figures = page.split("<h2>All trials")[0]
    assert "<h2>Architecture weights over the epochs" in figures and figures.count("<svg") >= 3
    alphas = figures[figures.index("<h2>Architecture weights"):]
    assert all(f">{name}</text>" in alphas for name in ("NC3", "SC3", "IDT", "cells.0", "cells.1"))


def _fake(scores):
    trials = [Trial(i, {"p0": a, "p1": b, "p2": c}).finish({"val_acc": s}) for i, (a, b, c, s) in enumerate(scores)]
    return RunData("x", {"optim": {"type": "RandomSearch"}}, trials, "search", "val_acc", "max",
                   [{"metric": "val_acc", "mode": "max"}])


def test_importance_and_slot_statistics_find_the_parameter_that_matters():
    import itertools

    scores = [(a, b, c, 10.0 * (a == "x") + 0.1 * (c == "u")) for a, b, c in
              itertools.product("xyz", "uvw", "uv")]
    data = _fake(scores)
    values = dict(importance(data))
    assert max(values, key=values.get) == "p0" and abs(sum(values.values()) - 1) < 1e-9
    rows = {(r["param"], r["choice"]): r for r in slot_stats(data)}
    assert rows[("p0", "x")]["top"] == 1.0 and rows[("p0", "x")]["all"] == 1 / 3
    assert rows[("p0", "x")]["mean"] > rows[("p0", "y")]["mean"]


def test_reporting_on_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"slotnas: error: report: {str(tmp_path)!r} is not a run folder (no config.yaml)"


def test_every_run_keeps_its_report_up_to_date_unless_turned_off(tmp_path, capsys):
    result = run_search(tiny_config(tmp_path / "on", run={"budget": 3, "report": True}))
    page = open(os.path.join(result.run_dir, "report.html")).read()
    assert page.count('<tr><td class="num" data-v=') >= 3 and "best so far" in page
    off = run_search(tiny_config(tmp_path / "off", run={"budget": 1}))
    assert not os.path.exists(os.path.join(off.run_dir, "report.html"))
    assert main(["report", "--watch", "5", off.run_dir]) == 0  # a finished run: one write, then done
    assert capsys.readouterr().out.count("wrote ") == 1
    assert main(["report", "--watch", "0", off.run_dir]) == 2


def test_the_live_report_is_throttled():
    from slotnas.callbacks import LiveReport

    class FakeRun:
        run_dir, store, writes = "x", None, 0

    live = LiveReport(interval=60.0)
    live._write = lambda run: (setattr(run, "writes", run.writes + 1), setattr(live, "_last", 1e18))  # noqa: E731
    run = FakeRun()
    for _ in range(5):
        live.on_trial_complete(run, None)
    assert run.writes == 1  # the first trial, then not again within the interval
    live.on_search_end(run, None)
    assert run.writes == 2  # the end always


def test_runs_lists_run_folders_with_their_status_and_compare_puts_them_on_one_page(tmp_path, capsys):
    from slotnas.files import lock_run_dir

    first = run_search(tiny_config(tmp_path, run={"budget": 2}))
    second = run_search(tiny_config(tmp_path, optim={"type": "GridSearch"}, run={"budget": 3, "seed": 1}))
    os.remove(os.path.join(first.run_dir, "summary.txt"))  # as if killed: resumable
    assert main(["runs", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "optimizer", "estimator", "status", "trials", "objective", "best", "seconds"]
    assert lines[1].split()[:5] == [os.path.basename(first.run_dir), "RandomSearch", "SubNetEstim", "stopped", "2/2"]
    assert lines[2].split()[:5] == [os.path.basename(second.run_dir), "GridSearch", "SubNetEstim", "finished", "3/3"]
    lock = lock_run_dir(second.run_dir)  # a process working in it
    try:
        assert main(["runs", str(tmp_path)]) == 0
        assert capsys.readouterr().out.splitlines()[2].split()[3] == "running"
    finally:
        lock.close()
    out = tmp_path / "cmp.html"
    assert main(["compare", first.run_dir, second.run_dir, "--out", str(out)]) == 0
    page = out.read_text()
    assert parse(page).urls == [] and page.count("<svg") >= 2
    assert os.path.basename(first.run_dir) in page and os.path.basename(second.run_dir) in page


def test_a_cell_run_draws_its_cells_and_a_multi_fidelity_run_shows_its_rungs(tmp_path):
    from .test_templates import small_darts

    darts = run_search(small_darts(tmp_path / "darts", construct=[{"type": "mixed_op", "mixed": "weighted_sum"}],
                                   optim={"type": "DARTS", "lr": 3e-3}, estim={"type": "SuperNetEstim", "epochs": 1}))
    page = render(load_run(darts.run_dir))
    best = page[page.index("<h2>Best architecture"):]
    assert ">normal cell</text>" in best and ">reduction cell</text>" in best and ">node1</text>" in best
    asha = run_search(tiny_config(tmp_path / "asha", estim={"type": "Objective", "fn": "tests.test_objective:curve",
                                                            "steps": 4},
                                  optim={"type": "GridSearch"}, scheduler={"type": "ASHA", "min_fidelity": 1, "eta": 2},
                                  run={"budget": 9}))
    page = render(load_run(asha.run_dir))
    rungs = page[page.index("<h2>Multi-fidelity rungs"):page.index("<h2>Choices per slot")]
    counts = [int(v) for v in re.findall(r'<tr><td class="num" data-v="[\d.]+">[\d.]+</td><td class="num" data-v="(\d+)"', rungs)]
    assert counts[0] == 9 and counts == sorted(counts, reverse=True) and counts[-1] >= 1


def test_a_hierarchical_run_draws_the_graph_and_the_motifs_it_uses(tmp_path):
    import copy

    from .test_hierarchical import TINY as HIERARCHICAL

    cfg = tiny_config(tmp_path, model=None, template=copy.deepcopy(HIERARCHICAL), construct=[{"type": "categorical"}],
                      run={"budget": 3})
    result = run_search(cfg)
    best = render(load_run(result.run_dir))
    best = best[best.index("<h2>Best architecture"):]
    used = sorted({v for k, v in result.best_arch.items() if k.startswith("graph.") and v.startswith("motif")})
    assert best.count("<svg") == 1 + len(used)  # the graph, then each motif it uses
    assert ">graph (motifs in orange, dashed: fixed operations)</text>" in best
    for motif in used:
        assert f">{motif}</text>" in best
        ops = [v for k, v in result.best_arch.items() if k.startswith(motif + ".") and v != "NIL"]
        assert all(f">{op}</text>" in best for op in ops)


def test_motif_plots_follow_the_chosen_motifs_only():
    from slotnas.report.figures import motif_plots

    arch = {"graph.edge1_2": "motif1.1", "graph.edge2_3": "IDT", "motif1.0.edge0_1": "NC3",
            "motif1.1.edge0_1": "NIL", "motif1.1.edge0_2": "NC3", "motif1.1.edge1_2": "IDT"}
    plots = motif_plots(arch)
    assert len(plots) == 2 and ">motif1.1</text>" in plots[1] and ">NIL</text>" not in plots[1]
    assert motif_plots({"cells.0": "NC3"}) == []
