"""Test helpers: a tiny, fast search config."""
import copy

from slotnas.config import validate

TINY = {
    "model": {"type": "slot_cnn", "stem": 8, "layout": [[8, 1], [16, 2]]},
    "construct": [{"type": "mixed_op", "mixed": "index", "candidates": ["NC3", "SC3", "IDT"]}],
    "optim": {"type": "RandomSearch"},
    "estim": {"type": "SubNetEstim", "epochs": 1},
    "trainer": {"epochs": 1, "lr": 0.05},
    "data": {"type": "digits", "batch_size": 128},
    "metrics": ["params"],
    "run": {"seed": 0, "budget": 3, "progress": False, "report": False, "export_onnx": False, "export_program": False, "retrain_epochs": 0,
            "workers": 1},
}


def tiny_config(tmp_path, **sections) -> dict:
    """The tiny config with sections replaced (None removes one), run keys merged, validated, under tmp_path."""
    cfg = copy.deepcopy(TINY)
    run = {**cfg["run"], **sections.pop("run", {}), "out": str(tmp_path)}
    cfg.update(sections)
    cfg = {k: v for k, v in cfg.items() if v is not None}
    cfg["run"] = run
    return validate(cfg)


def drive(opt, score, n, start=0):
    """Ask ``opt`` for up to ``n`` architectures, telling each its ``score(arch)`` metrics; return the trials."""
    from slotnas.trials import Trial

    trials = []
    for i in range(start, start + n):
        arch = opt.ask()
        if arch is None:
            break
        trial = Trial(i, arch).finish(score(arch))
        opt.tell(trial)
        trials.append(trial)
    return trials


def search_trials(run_dir, kind="search"):
    """The latest state of each trial of ``kind`` in a run folder's journal."""
    from slotnas.store import TrialStore

    return TrialStore(run_dir).trials(kind)
