"""``run.executor: ray``: TrialWorkers as Ray actors on a local or existing cluster (``pip install slotnas[ray]``)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..errors import SlotnasError
from ..schedulers import StopRule
from ..trials import Trial
from .executors import Executor
from .worker import TrialWorker


def import_ray() -> Any:
    """The ray module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SlotnasError("run.executor: 'ray' needs Ray; install it with pip install 'slotnas[ray]'") from None
    return ray


class RayExecutor(Executor):
    """One actor per worker, each building the space once; a trial goes to whichever actor is idle.

    ``address`` None starts a local Ray instance (stopped again at the end); otherwise it is passed
    to ``ray.init`` (e.g. ``auto`` or ``ray://host:10001``). ``resources`` ``{cpu, gpu}`` per actor.
    """

    def __init__(self, cfg: Dict[str, Any], workers: int, threads: int, shared_state: Optional[Dict[str, Any]],
                 address: Optional[str], resources: Dict[str, float], run_dir: Optional[str] = None) -> None:
        ray = self.ray = import_ray()
        self.started = not ray.is_initialized()
        if self.started:
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         configure_logging=False, logging_level="ERROR")
            except Exception as exc:  # an unreachable cluster: one line, not Ray's traceback
                raise SlotnasError(f"run.ray_address: cannot connect to Ray at {address or 'a new local instance'} "
                                   f"({type(exc).__name__}: {exc})") from None
        actor = ray.remote(num_cpus=resources.get("cpu", 1), num_gpus=resources.get("gpu", 0))(TrialWorker)
        state = ray.put(shared_state)
        self.slots = workers
        self.actors = [actor.remote(cfg, state, threads, i, "ray", None, run_dir) for i in range(workers)]
        self.idle = list(self.actors)
        self.running: Dict[Any, Tuple[Any, Trial]] = {}

    def submit(self, trial: Trial, rule: Optional[StopRule] = None) -> None:
        actor = self.idle.pop()
        self.running[actor.run.remote(trial, rule)] = (actor, trial)

    def wait(self) -> List[Trial]:
        ready, _ = self.ray.wait(list(self.running), num_returns=1)
        out = []
        for ref in ready:
            actor, trial = self.running.pop(ref)
            self.idle.append(actor)
            try:
                out.append(self.ray.get(ref))
            except self.ray.exceptions.RayTaskError as exc:
                raise exc.cause from None  # the worker's own exception (one-line user errors stay one line)
            except self.ray.exceptions.RayActorError as exc:
                raise SlotnasError(f"the Ray worker evaluating trial {trial.index} died ({type(exc).__name__}); "
                                   "resume the run to evaluate it again") from None
        return out

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        if self.started:
            self.ray.shutdown()
