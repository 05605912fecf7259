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

        return SlurmExecutor(SlurmSettings.from_env(settings.extra),
                             service=settings.service_name)
    from .htcondor import HTCondorExecutor, HTCondorSettings

    return HTCondorExecutor(HTCondorSettings.from_env(settings.extra),
                            service=settings.service_name)
