"""Execution backends behind one interface (:mod:`.base`); chosen by ``UWS_EXECUTOR``."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Settings
from .base import Executor


def make_executor(settings: Settings, on_change: Callable[[], None] | None = None) -> Executor:
    """The configured executor. Cluster backends are imported only when chosen."""
    if settings.executor == "local":
        from .local import LocalExecutor

        return LocalExecutor(settings.jobs_dir, settings.local_concurrency, on_change)
    if settings.executor == "slurm":
        from .slurm import SlurmExecutor, SlurmSettings

        # Array manifests live beside the job directories, which the nodes share.
        return SlurmExecutor(SlurmSettings.from_env(settings.extra),
                             service=settings.service_name,
                             spool=(settings.jobs_dir / ".slurm-arrays").resolve())
    from .htcondor import HTCondorExecutor, HTCondorSettings

    return HTCondorExecutor(HTCondorSettings.from_env(settings.extra),
                            service=settings.service_name)
