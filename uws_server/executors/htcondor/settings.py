"""Settings of the HTCondor executor, explicit and immutable.

The executor never reads the environment itself: :meth:`HTCondorSettings.from_env`
turns the ``UWS_HTCONDOR_*`` variables into settings, so that the service wiring
decides where configuration comes from (and tests build settings directly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

FileMode = Literal["transfer", "shared"]

#: Every variable :meth:`HTCondorSettings.from_env` reads, and so every ``UWS_HTCONDOR_*`` name
#: the service accepts (:func:`uws_server.config.load_settings` refuses others).
ENVIRONMENT: tuple[str, ...] = tuple(f"UWS_HTCONDOR_{name}" for name in (
    "SCHEDD", "COLLECTOR", "SPOOL", "FILE_MODE", "CALL_TIMEOUT", "RECONCILE_INTERVAL",
    "MAX_RETRIES", "EXTRA_SUBMIT", "MAX_IDLE_JOBS"))

_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off", ""}


def _flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be yes or no, not {value!r}")


@dataclass(frozen=True)
class HTCondorSettings:
    """How the executor reaches a schedd and shapes the jobs it submits.

    Attributes
    ----------
    schedd_name
        Name of a remote schedd (``None``: the local schedd of this access point).
    collector
        Collector (``host[:port]``) used to locate the schedd (``None``: the
        configured ``COLLECTOR_HOST``). With a collector but no ``schedd_name``,
        the collector's first schedd is used.
    spool
        Submit with ``spool=True`` and ``retrieve()`` outputs on completion: for a
        remote access point that does not share this host's filesystem.
    file_mode
        ``"transfer"`` (HTCondor file transfer of inputs and of ``outputs/``) or
        ``"shared"`` (the execute nodes see the job directories).
    call_timeout
        Seconds any schedd call may take before its child process is killed and a
        transient :class:`~uws_server.executors.base.ExecutorError` is raised.
    reconcile_interval
        Seconds between reconciliation queries against the queue and history.
    max_retries
        ``max_retries`` of the submit description (``None``: not set).
    extra_submit
        More submit commands written verbatim (site policy: requirements...).
    max_idle_jobs
        What :meth:`free_slots` reports: this many jobs may be queued at once.
    """

    schedd_name: str | None = None
    collector: str | None = None
    spool: bool = False
    file_mode: FileMode = "transfer"
    call_timeout: float = 20.0
    reconcile_interval: float = 60.0
    max_retries: int | None = None
    extra_submit: tuple[tuple[str, str], ...] = ()
    max_idle_jobs: int = 100_000

    def __post_init__(self) -> None:
        if self.file_mode not in ("transfer", "shared"):
            raise ValueError(f"file_mode must be transfer or shared, not {self.file_mode!r}")
        if self.call_timeout <= 0:
            raise ValueError("call_timeout must be positive")
        if self.spool and self.file_mode != "transfer":
            raise ValueError("spool (remote access point) needs file_mode 'transfer'")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HTCondorSettings:
        """Read ``UWS_HTCONDOR_*`` variables (see ``condor/README.md``)."""
        env = os.environ if environ is None else environ
        extra: list[tuple[str, str]] = []
        for line in env.get("UWS_HTCONDOR_EXTRA_SUBMIT", "").splitlines():
            if line.strip():
                key, sep, value = line.partition("=")
                if not sep:
                    raise ValueError(f"UWS_HTCONDOR_EXTRA_SUBMIT line without '=': {line!r}")
                extra.append((key.strip(), value.strip()))
        retries = env.get("UWS_HTCONDOR_MAX_RETRIES", "").strip()
        mode = env.get("UWS_HTCONDOR_FILE_MODE", "transfer").strip().lower() or "transfer"
        return cls(
            schedd_name=env.get("UWS_HTCONDOR_SCHEDD") or None,
            collector=env.get("UWS_HTCONDOR_COLLECTOR") or None,
            spool=_flag("UWS_HTCONDOR_SPOOL", env.get("UWS_HTCONDOR_SPOOL", "no")),
            file_mode=mode,  # type: ignore[arg-type]  # checked in __post_init__
            call_timeout=float(env.get("UWS_HTCONDOR_CALL_TIMEOUT", "20")),
            reconcile_interval=float(env.get("UWS_HTCONDOR_RECONCILE_INTERVAL", "60")),
            max_retries=int(retries) if retries else None,
            extra_submit=tuple(extra),
            max_idle_jobs=int(env.get("UWS_HTCONDOR_MAX_IDLE_JOBS", "100000")),
        )
