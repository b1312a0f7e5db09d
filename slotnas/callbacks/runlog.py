"""RunLog: the run header, one line per trial, summary.txt and results.csv, so a run reads well anywhere."""
from __future__ import annotations

import csv
import io
import sys
from typing import TYPE_CHECKING, List

from ..files import write_text
from ..registry import component_options
from ..summary import flat_rows, space_log10, summary_text, trial_line
from .base import Callback

if TYPE_CHECKING:
    from ..runtime.context import Run, SearchResult
    from ..trials import Trial

LOG, SUMMARY, CSV = "log.txt", "summary.txt", "results.csv"


def header_lines(run: "Run") -> List[str]:
    """What this run is: folder, space, optimizer, estimator, budget, scheduler, device, workers, threads."""
    cfg = run.config

    def spec(section: str) -> str:
        options = component_options(cfg[section])
        shown = ", ".join(f"{k}={v}" for k, v in options.items() if not isinstance(v, (dict, list)))
        return f"{cfg[section]['type']}" + (f" ({shown})" if shown else "")

    stored = len(run.trials())
    lines = [f"slotnas: run folder {run.run_dir}" + (f" (resumed: {stored} trial(s) stored)" if run.resumed else ""),
             f"slotnas: space {len(run.space)} parameter(s), 10^{space_log10(run.space):.2f} architectures; "
             f"optimizer {spec('optim')}; estimator {spec('estim')}"]
    unit = "epochs of one supernet" if run.optimizer.kind == "gradient" else "trials"
    budget = getattr(run.estimator, "epochs", None) if run.optimizer.kind == "gradient" else run.budget
    line = f"slotnas: budget {budget} {unit}"
    if "scheduler" in cfg:
        line += f"; scheduler {spec('scheduler')}"
    device = getattr(getattr(run.estimator, "trainer", None), "device", "cpu")
    line += f"; device {device}; {run.workers} worker(s) x {run.threads} torch thread(s)"
    return lines + [line]


class RunLog(Callback):
    """Everything to ``log.txt`` in the run folder (appended: a resumed run adds its own header); the
    header also to the screen (stderr, above the bar), trial lines only when ``echo_trials`` (bar off).
    At the end, ``summary.txt`` (the table the CLI prints) and ``results.csv`` (flat columns)."""

    def __init__(self, echo_trials: bool) -> None:
        self.echo_trials = echo_trials

    def _write(self, run: "Run", lines: List[str], echo: bool) -> None:
        with open(run.path(LOG), "a", encoding="utf-8") as log:
            log.write("".join(line + "\n" for line in lines))
        if echo:
            from tqdm.auto import tqdm

            tqdm.write("\n".join(lines), file=sys.stderr)  # above the progress bar when there is one

    def on_search_start(self, run: "Run") -> None:
        self._write(run, header_lines(run), echo=True)

    def on_trial_complete(self, run: "Run", trial: "Trial") -> None:
        self._write(run, [trial_line(trial, run.optimizer.objective)], echo=self.echo_trials)

    on_epoch_end = on_trial_complete

    def on_trial_report(self, run: "Run", trial: "Trial") -> None:
        self._write(run, [trial_line(trial, run.optimizer.objective) + "  (paused at this rung)"],
                    echo=self.echo_trials)

    def on_search_end(self, run: "Run", result: "SearchResult") -> None:
        text = summary_text(result)
        write_text(run.path(SUMMARY), text + "\n")
        self._write(run, [text], echo=False)
        rows = flat_rows(run.store.trials())
        columns = list(dict.fromkeys(key for row in rows for key in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_text(run.path(CSV), buffer.getvalue())
