"""``executor=ray``: a bench run's units as Ray tasks on a cluster.

:meth:`rr_gym.bench.scheduler.UnitPlan.run` hands ready units to an executor with the
``concurrent.futures`` interface (``submit`` returns a ``Future``); the local one is a pool
of worker processes. :class:`RayExecutor` submits each unit as a Ray task instead, with its
resources (``num_cpus`` = the torch threads of a unit; one GPU for the stages that train or
sample on ``device=cuda``). Units find and build themselves through the same cache and its
locks, so the cache folder must be on storage that every node sees (a shared filesystem);
results are the local executor's.

Connection: an already initialised Ray (``ray.init`` in the caller) is used as it is;
otherwise ``ray.init(address=...)`` with the bench's ``ray_address`` (null: the
``RAY_ADDRESS`` environment variable, else a local instance on this machine), shut down at
the end of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from rr_gym.errors import ConfigError

__all__ = ["GPU_STAGES", "RayExecutor", "unit_resources"]

#: Stages whose units train or sample torch models on the run's device.
GPU_STAGES = frozenset({"diffusion", "rewards", "steering", "images"})


def unit_resources(stage: str, threads: int, *, gpu: bool) -> dict[str, float]:
    """Ray resources of one unit of ``stage``: ``threads`` CPUs, and one GPU for
    :data:`GPU_STAGES` when the run uses CUDA (``gpu``).

    Example:
        >>> unit_resources("diffusion", 2, gpu=True)
        {'num_cpus': 2.0, 'num_gpus': 1.0}
        >>> unit_resources("datasets", 1, gpu=True)
        {'num_cpus': 1.0, 'num_gpus': 0.0}
    """
    return {"num_cpus": float(threads), "num_gpus": 1.0 if gpu and stage in GPU_STAGES else 0.0}


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            "executor=ray needs Ray, which is in the optional `distributed` extra: "
            "pip install -e '.[distributed]' (or use executor=local)"
        ) from exc
    return ray


class RayExecutor:
    """Submits bench units as Ray tasks (the subset of ``concurrent.futures.Executor`` that
    the scheduler uses).

    Args:
        device: the run's torch device; ``cuda...`` gives units of :data:`GPU_STAGES` one
            GPU each.
        address: Ray cluster address (None: ``RAY_ADDRESS`` or a local instance); ignored
            when Ray is already initialised.
    """

    def __init__(self, *, device: str = "cpu", address: str | None = None) -> None:
        self._ray = _import_ray()
        self._owns = not self._ray.is_initialized()
        if self._owns:
            self._ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self._gpu = device.startswith("cuda")
        self._remote: dict[Callable[..., Any], Any] = {}

    def slots(self, threads: int) -> int:
        """How many units fit on the cluster at once (its CPUs over ``threads`` each)."""
        cpus = float(self._ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // max(1, threads)))

    def submit(
        self, fn: Callable[..., Any], root: str, stage: str, spec: Any, threads: int
    ) -> Future[Any]:
        """Run ``fn(root, stage, spec, threads)`` (the scheduler's worker) as a Ray task."""
        if fn not in self._remote:
            self._remote[fn] = self._ray.remote(fn)
        task = self._remote[fn].options(**unit_resources(stage, threads, gpu=self._gpu))
        return task.remote(root, stage, spec, threads).future()

    def shutdown(self, wait: bool = True, kill_workers: bool = False) -> None:
        """Disconnect from Ray when this executor started it."""
        del wait, kill_workers  # running tasks finish (or die) with the Ray workers
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
