"""The ``slotnas`` command: search, export, list."""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from .errors import SlotnasError

LISTABLE = ("optimizers", "estimators", "candidates", "metrics", "datasets", "constructors", "models", "templates")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slotnas", description="Slot-replacement neural architecture search.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    search = sub.add_parser("search", help="run the search a YAML config describes (default: embedded digits config)")
    search.add_argument("config", nargs="?", help="YAML config (default: the embedded configs/default.yaml)")
    search.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set optim.type=RegularizedEvolution (repeatable)")
    search.add_argument("--out", help="parent folder of the run folder (run.out)")
    search.add_argument("--seed", type=int, help="random seed (run.seed)")
    resume = sub.add_parser("resume", help="continue a killed or finished run from its own config.yaml")
    resume.add_argument("run_dir")
    resume.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="change a runtime key, e.g. --set run.budget=40 or run.workers=2 (repeatable)")
    export = sub.add_parser("export", help="rebuild a run's best architecture as a plain nn.Module")
    export.add_argument("run_dir")
    export.add_argument("--onnx", help="also write the fixed model to this ONNX file (any batch size)")
    export.add_argument("--program", help="also write a torch.export program (.pt2) that runs with torch alone")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--trial", type=int, help="export this trial's architecture instead of the winner")
    which.add_argument("--pareto", type=int, metavar="K", help="export the K-th point of pareto.csv (1-based)")
    export.add_argument("--epochs", type=int, help="with --trial/--pareto: retraining epochs (default: the "
                                                    "run's retrain_epochs; 0: untrained)")
    table = sub.add_parser("latency-table", help="build a latency lookup table for a config's space; print its MAPE")
    table.add_argument("config")
    table.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    table.add_argument("--out", default="latency_table.json", help="JSON file to write (default: %(default)s)")
    table.add_argument("--samples", type=int, default=20, help="architectures measured for the MAPE")
    table.add_argument("--seed", type=int, default=0)
    report = sub.add_parser("report", help="write a run's report: one self-contained HTML page (works offline)")
    report.add_argument("run_dir")
    report.add_argument("--out", help="HTML file to write (default: RUN_DIR/report.html)")
    report.add_argument("--watch", type=float, metavar="SECONDS", help="rewrite it every SECONDS until the run "
                                                                       "ends (a run started elsewhere)")
    runs = sub.add_parser("runs", help="list the run folders under DIR: optimizer, status, trials, best, time")
    runs.add_argument("dir", nargs="?", default="runs")
    compare = sub.add_parser("compare", help="one self-contained HTML page comparing runs (best so far, fronts)")
    compare.add_argument("run_dirs", nargs="+")
    compare.add_argument("--out", default="compare.html", help="HTML file to write (default: %(default)s)")
    pipe = sub.add_parser("pipeline", help="run a pipeline file's steps (search, tune, train, export) in order; "
                                           "a re-run skips finished steps")
    pipe.add_argument("pipeline")
    pipe.add_argument("--out", help="the pipeline's folder (default: its 'out' key, else runs/pipeline-NAME)")
    describe = sub.add_parser("describe", help="summarize a config's search space (slots, parameters, size)")
    describe.add_argument("config")
    describe.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    describe.add_argument("--batch-size", type=int, help="also estimate the activation memory of one training step "
                                                           "at this batch size (forward passes at batch 4 and 8)")
    describe.add_argument("--arch", help="a best_arch.yaml-style file: also print that fixed network's parameters "
                                         "and MACs (e.g. configs/darts_v2.yaml with configs/darts_eval.yaml)")
    lister = sub.add_parser("list", help="list registered components")
    lister.add_argument("what", choices=LISTABLE)
    lister.add_argument("-v", "--verbose", action="store_true", help="also each component's options: type, default")
    return parser


def _search(args: argparse.Namespace) -> int:
    from .config import load_config
    from .runtime import run_search

    overrides = list(args.overrides)
    if args.out is not None:
        overrides.append(f"run.out={args.out}")
    if args.seed is not None:
        overrides.append(f"run.seed={args.seed}")
    return _summary(run_search(load_config(args.config, overrides)))


def _resume(args: argparse.Namespace) -> int:
    from .runtime import resume

    return _summary(resume(args.run_dir, overrides=args.overrides))


def _summary(result) -> int:  # type: ignore[no-untyped-def]
    """Print the results table, the winner as the optimizer ranks it and the run folder."""
    from .summary import summary_text

    print(summary_text(result))
    print(f"run folder: {result.run_dir}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .exporting import export_trial, save_portable
    from .metrics import count_params
    from .runner import load_fixed, read_best_arch

    if args.trial is not None or args.pareto is not None:
        if args.epochs is not None and args.epochs < 0:
            raise SlotnasError(f"export --epochs: expected an int >= 0, got {args.epochs}")
        done = export_trial(args.run_dir, args.trial, args.pareto, args.epochs)
        model, shape = done.model, done.input_shape
        print(f"trial {done.trial.index} ({', '.join(f'{k} {v}' for k, v in done.trial.arch.items())})")
        print(f"weights: {done.weights}" + (": " + ", ".join(
            f"{k} {v:.3f}" for k, v in done.final_metrics.items() if k.endswith("_acc")) if done.final_metrics else ""))
        for path in done.files:
            print(f"wrote {path}")
    else:
        best = read_best_arch(args.run_dir)
        model, shape = load_fixed(args.run_dir), best["input_shape"]
        print(model)
        print(f"plain nn.Module {type(model).__name__}: {count_params(model):,} parameters, no Slot or mixed op left")
        print(f"in Python: slotnas.runner.load_fixed({args.run_dir!r})")
    for path in save_portable(model, shape, args.onnx, args.program):
        print(f"wrote {path}")
    return 0


def _latency_table(args: argparse.Namespace) -> int:
    from .config import load_config
    from .metrics.lut import build_table_for_config

    cfg = load_config(args.config, args.overrides)
    lut, mape, n = build_table_for_config(cfg, samples=args.samples, seed=args.seed, progress=cfg["run"]["progress"])
    lut.save(args.out)
    print(f"wrote {args.out}: {len(lut.entries)} entries, base {lut.base_ms:.3f} ms")
    print(f"prediction error on {n} sampled architectures: MAPE {100 * mape:.2f} %")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from .config import load_config, read_yaml
    from .data import data_shape
    from .runner import describe

    cfg = load_config(args.config, args.overrides)
    arch = read_yaml(args.arch) if args.arch else None
    input_shape, num_classes = data_shape(cfg["data"])
    if args.batch_size is not None and args.batch_size < 1:
        raise SlotnasError(f"describe --batch-size: expected an int >= 1, got {args.batch_size}")
    print(describe(cfg, input_shape, num_classes, arch, batch_size=args.batch_size))
    return 0


def _list(args: argparse.Namespace) -> int:
    from .arch_space import CANDIDATES, CONSTRUCTORS
    from .arch_space.backbones import MODELS
    from .arch_space.templates import TEMPLATES
    from .config import INJECTED, component_registries
    from .data import DATASETS
    from .estim import ESTIMATORS
    from .metrics import METRICS
    from .optim import OPTIMIZERS
    from .registry import describe_options

    component_registries()  # every component registered, also the from_run model
    registry = {"optimizers": OPTIMIZERS, "estimators": ESTIMATORS, "candidates": CANDIDATES, "metrics": METRICS,
                "datasets": DATASETS, "constructors": CONSTRUCTORS, "models": MODELS,
                "templates": TEMPLATES}[args.what]
    injected = {"optimizers": INJECTED["optim"], "estimators": INJECTED["estim"], "models": ("in_channels", "num_classes"),
                "templates": ("in_channels", "num_classes"), "constructors": ("slots", "space")}.get(args.what, ())
    for name in registry.names():
        component = registry.get(name)
        doc = (getattr(component, "__doc__", None) or "").strip().splitlines()
        print(f"{name:<22} {doc[0] if doc and args.what != 'candidates' else ''}".rstrip())
        if args.verbose and args.what != "candidates":
            for line in describe_options(component, injected):
                print(f"    {line}")
    return 0


def _report(args: argparse.Namespace) -> int:
    import time

    from .report import run_finished, write_report

    if args.watch is not None and args.watch <= 0:
        raise SlotnasError(f"report --watch: expected seconds > 0, got {args.watch:g}")
    while True:
        finished = run_finished(args.run_dir)  # before writing: the last page shows the end
        print(f"wrote {write_report(args.run_dir, args.out)}", flush=True)
        if args.watch is None or finished:
            return 0
        time.sleep(args.watch)


def _runs(args: argparse.Namespace) -> int:
    from .report.compare import runs_text

    print(runs_text(args.dir))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .report.compare import write_compare

    print(f"wrote {write_compare(args.run_dirs, args.out)}")
    return 0


def _pipeline(args: argparse.Namespace) -> int:
    from .pipeline import Pipeline

    pipeline = Pipeline(args.pipeline, out=args.out)  # every step checked before the first runs
    for name, output in pipeline.run(log=lambda line: print(line, file=sys.stderr)).items():
        print(f"{name}: {output}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; user errors print one line and exit 2 (``--debug`` shows the traceback)."""
    args = _parser().parse_args(argv)
    try:
        commands = {"search": _search, "resume": _resume, "export": _export, "latency-table": _latency_table,
                    "describe": _describe, "list": _list, "pipeline": _pipeline,
                    "report": _report, "runs": _runs, "compare": _compare}
        return commands[args.command](args)
    except SlotnasError as exc:
        if args.debug:
            raise
        print(f"slotnas: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `slotnas list optimizers -v | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("slotnas: interrupted; finished trials are in the run folder (slotnas resume RUN_DIR continues)",
              file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Exit now: the journal is already on disk, the folder lock and worker processes go with this process,
        # and interpreter shutdown (joining workers and threads) could be interrupted again and end by SIGINT.
        os._exit(130)
    except Exception as exc:  # a bug (ours or in user code): one line, the traceback with --debug
        if args.debug:
            raise
        print(f"slotnas: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
