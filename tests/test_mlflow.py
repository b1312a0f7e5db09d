"""Logging to MLflow (run.mlflow); skipped where the mlflow extra is not installed."""
import pytest

from slotnas import SlotnasError
from slotnas.config import validate
from slotnas.runtime.search import run_search

from .helpers import TINY, tiny_config

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra (pip install 'slotnas[mlflow]') is not installed")


@pytest.fixture(autouse=True)
def file_store(monkeypatch):
    """A tracking folder per test (MLflow 3 asks for an opt-in to its file store)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def test_a_search_is_one_mlflow_run_with_a_nested_run_per_trial(tmp_path):
    uri = f"file://{tmp_path}/mlruns"
    hparams = {"trainer.lr": {"type": "log_float", "low": 0.01, "high": 0.1}}
    result = run_search(tiny_config(tmp_path, hparams=hparams,
                                    run={"budget": 3, "mlflow": {"tracking_uri": uri, "experiment": "digits"}}))
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("digits")
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and parent.data.params["optim"] == "RandomSearch"
    history = client.get_metric_history(parent.info.run_id, "val_acc")
    ordered = sorted(result.trials, key=lambda t: t.index)
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == \
        [(t.index, pytest.approx(t.metrics["val_acc"])) for t in ordered]
    best = client.get_metric_history(parent.info.run_id, "best_val_acc")
    assert max(m.value for m in best) == pytest.approx(result.best.metrics["val_acc"])
    assert len(children) == 3 and all(c.info.status == "FINISHED" for c in children)
    child = next(c for c in children if c.data.tags["slotnas.trial"] == str(result.best.index))
    assert float(child.data.params["trainer.lr"]) == pytest.approx(result.best.arch["trainer.lr"])
    assert "best_arch.yaml" in [a.path for a in client.list_artifacts(parent.info.run_id)]


def test_a_resumed_search_continues_its_mlflow_run(tmp_path):
    uri = f"file://{tmp_path}/mlruns"
    first = run_search(tiny_config(tmp_path, run={"budget": 2, "mlflow": {"tracking_uri": uri, "nested": False}}))
    run_search(tiny_config(tmp_path, run={"budget": 4, "resume": first.run_dir, "mlflow": {"tracking_uri": uri,
                                                                                           "nested": False}}))
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("slotnas").experiment_id])
    steps = sorted(m.step for m in client.get_metric_history(parent.info.run_id, "val_acc"))
    assert steps == [0, 1, 2, 3]


def test_bad_mlflow_options_and_an_unusable_store_are_one_line_errors(tmp_path, monkeypatch):
    with pytest.raises(SlotnasError, match=r"run.mlflow: unknown option 'experimnt' \(did you mean 'experiment'\?\); allowed: tracking_uri"):
        validate({**TINY, "run": {**TINY["run"], "mlflow": {"experimnt": "x"}}})
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "false")
    with pytest.raises(SlotnasError, match=r"^run.mlflow: .*filesystem tracking backend") as info:
        run_search(tiny_config(tmp_path, run={"mlflow": {"tracking_uri": f"file://{tmp_path}/mlruns"}}))
    assert "\n" not in str(info.value)
