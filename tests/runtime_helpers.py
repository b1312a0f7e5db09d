"""Importable pieces for runtime tests (configs name them as module:attr)."""
from torch import nn

from slotnas import Categorical
from slotnas.arch_space.backbones import SlotCNN
from slotnas.callbacks import Callback

EVENTS = []


class Recorder(Callback):
    """Records every hook call into EVENTS as short strings."""

    def on_search_start(self, run):
        EVENTS.append(f"start {len(run.trials())}")

    def on_trial_complete(self, run, trial):
        EVENTS.append(f"trial {trial.index} {trial.state.value} stored={run.store.get(trial.index) is trial}")

    def on_epoch_end(self, run, trial):
        EVENTS.append(f"epoch {trial.metrics['epoch']}")

    def on_search_end(self, run, result):
        EVENTS.append(f"end {len(result.trials)} model={result.model is not None}")


class BuggyHandlerNet(SlotCNN):
    """A slot_cnn that declares a 'width' parameter whose transform handler has a bug."""

    def declare_params(self, space):
        space.add(Categorical([1, 2], name="width"))
        space.connect(self.resize, ["width"])

    def resize(self, width):
        if width.value == 2:
            self.head.out_features += "1"  # TypeError: a bug in user code, not a bad architecture


def not_a_callback():
    return nn.Identity()


class Nan(nn.Module):
    """A candidate whose output is NaN: training fails with NonFiniteLoss."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1, stride)

    def forward(self, x):
        return self.conv(x) * float("nan")


class BuggyInWorkerNet(BuggyHandlerNet):
    """The handler bug shows only in spawned worker processes; in the main process the handler is slow."""

    def resize(self, width):
        import multiprocessing
        import time

        if multiprocessing.parent_process() is None:
            time.sleep(0.3)
        else:
            super().resize(width)


class CrashAfterEpoch(Callback):
    """Raises at the end of one-shot epoch ``epoch`` (a crash after that epoch was stored)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, run, trial):
        if trial.metrics["epoch"] == self.epoch:
            raise KeyboardInterrupt("crash")


def _register_curve_estimator():
    from slotnas.estim import Estimator, register_estimator

    @register_estimator("TestCurveEstim")
    class CurveEstim(Estimator):
        """A synthetic learning curve with a known best architecture: acc(f) = q(arch) * (1 - 0.5 ** f),
        q rising with each Slot's candidate index; 'epochs' is the fidelity."""

        parallel = True

        def __init__(self, *args, epochs: int = 9, **kwargs):
            super().__init__(*args, **kwargs)
            self.epochs = epochs

        @property
        def max_fidelity(self):
            return self.epochs

        def quality(self):
            return sum(p.choices.index(p.value) + 1 for p in self.space.discrete())

        def estimate(self):
            return self.estimate_at(self.epochs)[0]

        def estimate_at(self, fidelity, resume=None):
            start = 0 if resume is None else int(resume["epoch"])
            return {"val_acc": self.quality() * (1 - 0.5 ** fidelity), "epochs_trained": fidelity - start}, \
                {"epoch": fidelity}

    return CurveEstim


CurveEstim = _register_curve_estimator()


def _register_reporting_estimator():
    from slotnas.estim import Estimator, register_estimator

    @register_estimator("TestReportingEstim")
    class ReportingEstim(Estimator):
        """A user-written training loop (no checkpoints): the curve of TestCurveEstim, one report per epoch,
        returning early when the run's stopping rule says so."""

        parallel = True

        def __init__(self, *args, epochs: int = 9, **kwargs):
            super().__init__(*args, **kwargs)
            self.epochs = epochs

        def estimate(self):
            quality = sum(p.choices.index(p.value) + 1 for p in self.space.discrete())
            for epoch in range(1, self.epochs + 1):
                metrics = {"val_acc": quality * (1 - 0.5 ** epoch), "epochs_trained": epoch}
                if self.report(epoch, metrics):
                    break
            return metrics

    return ReportingEstim


ReportingEstim = _register_reporting_estimator()
