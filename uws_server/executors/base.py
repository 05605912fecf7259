"""The one small interface every execution backend implements.

Executors hold no job state of their own: the database is the truth. The
dispatcher hands an executor a :class:`JobSpec`, records the backend id it
gets back, and later asks for :class:`BackendStatus` reports, which it maps
onto UWS phases through the single transition function of the job service.

Submission is idempotent. Before calling :meth:`Executor.submit` the
dispatcher commits the job as *submitting* with a fresh ``token``; every
backend job carries the UWS job id and that token so that
:meth:`Executor.find` can adopt a job submitted just before a crash instead
of submitting it twice.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Resources:
    """What one job asks of the machine that runs it (from the Seed manifest).

    Memory and disk are in MiB, as Seed's ``mem``/``disk``/``sharedMem``
    scalars are. ``None`` means "not requested".
    """

    cpus: float | None = None
    mem_mib: float | None = None
    disk_mib: float | None = None
    gpus: int | None = None
    shared_mem_mib: float | None = None


@dataclass(frozen=True)
class JobSpec:
    """Everything a backend needs to run one job, and nothing it must remember.

    Attributes
    ----------
    job_id
        The UWS job id (hex, a legal path element and HTCondor/Slurm-safe).
    job_type
        The job type's name, for batch names and accounting.
    argv
        The command as an argv list; never to be joined into a shell string.
        ``argv[0]`` is the program.
    env
        Extra environment for the job (``OUTPUT_DIR``, ``JOB_ID``, settings).
    secret_env
        Names in ``env`` whose values must never be logged nor echoed.
    workdir
        The job's own directory (it exists). The job runs with it as its
        working directory; ``stdout``/``stderr`` go to files inside it.
    output_dir
        Where the job writes its outputs (``workdir / "outputs"``, exists).
    input_files
        Paths (inside ``workdir``) the job reads; backends that transfer
        files (HTCondor) send these.
    resources
        The resource request.
    execution_duration
        Wall-clock limit in seconds; 0 means unlimited.
    image
        Container image when the job type has one, else ``None``.
    service
        An identifier of this service instance, tagged on backend jobs so
        that reconciliation only ever touches our own jobs.
    """

    job_id: str
    job_type: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    workdir: Path
    output_dir: Path
    secret_env: frozenset[str] = frozenset()
    input_files: tuple[Path, ...] = ()
    resources: Resources = field(default_factory=Resources)
    execution_duration: int = 0
    image: str | None = None
    service: str = "uws-server"

    @property
    def stdout_path(self) -> Path:
        """Where the job's standard output is written."""
        return self.workdir / "stdout.txt"

    @property
    def stderr_path(self) -> Path:
        """Where the job's standard error is written."""
        return self.workdir / "stderr.txt"

    def redacted_env(self) -> dict[str, str]:
        """The environment with secret values masked, for logs and debugging."""
        return {k: ("***" if k in self.secret_env else v) for k, v in self.env.items()}


class BackendState(enum.Enum):
    """A backend's view of a job, before mapping onto UWS phases."""

    QUEUED = "queued"  # accepted, waiting for resources
    EXECUTING = "executing"  # running (or transferring output)
    SUSPENDED = "suspended"  # paused by the system, will resume
    HELD = "held"  # held by a user / submitted on hold; needs a release
    COMPLETED = "completed"  # finished with exit status 0
    FAILED = "failed"  # finished badly: non-zero exit, signal, node failure...
    CANCELLED = "cancelled"  # removed/cancelled (by us: abort; by others: error)
    TIMED_OUT = "timed_out"  # killed because the execution duration was exceeded
    UNKNOWN = "unknown"  # not found in the queue nor in the history


@dataclass(frozen=True)
class BackendStatus:
    """One status report about one backend job.

    ``reason`` is a short human-readable explanation for FAILED, CANCELLED,
    HELD and TIMED_OUT states (hold reason, remove reason, Slurm reason...).
    ``system_failure`` is true when the failure is the system's fault (node
    failure, transfer failure) rather than the job's own non-zero exit; the
    dispatcher may retry those.  ``cancelled_by_service`` tells apart a
    cancellation the service asked for (abort) from one done by anybody else.
    """

    state: BackendState
    exit_code: int | None = None
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    system_failure: bool = False
    cancelled_by_service: bool = False
    cursor: str | None = None


@dataclass(frozen=True)
class JobHandle:
    """What the dispatcher remembers (in the database) about a backend job.

    ``cursor`` is an opaque progress marker an executor returned in a
    :class:`BackendStatus` (an event-log offset, say). The dispatcher stores
    it in the same transaction as the phase change it caused and hands it
    back on the next poll, so that events are never lost nor applied twice.
    """

    backend_id: str
    workdir: Path
    cursor: str | None = None


@dataclass(frozen=True)
class Submission:
    """What :meth:`Executor.submit` returns: the backend's id for the job."""

    backend_id: str


class ExecutorError(Exception):
    """The backend could not be reached or refused a request.

    ``transient`` is true when trying again later may succeed (timeouts,
    a daemon that is down); the dispatcher then leaves the job as it is.
    """

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


def check_service(spec: JobSpec, service: str) -> None:
    """Refuse a job tagged for another service: the executor could never find it again.

    Backends tag jobs with ``spec.service`` and reconcile by the tag they follow.
    """
    if spec.service != service:
        raise ExecutorError(
            f"job {spec.job_id} is tagged for service {spec.service!r}, but this executor "
            f"follows {service!r}: it could never find nor reconcile it",
            transient=False,
        )


@runtime_checkable
class Executor(Protocol):
    """The interface of every execution backend.

    Every method may raise :class:`ExecutorError`. None of them may block
    for long: each has its own deadline (a hung scheduler must not stall the
    dispatcher), after which it raises a transient :class:`ExecutorError`.
    """

    name: str

    def free_slots(self) -> int:
        """How many more jobs the backend will take now (a large number for clusters)."""
        ...

    def submit(self, spec: JobSpec, token: str) -> Submission:
        """Start or enqueue the job; tag it with ``spec.job_id`` and ``token``."""
        ...

    def find(self, job_id: str, token: str) -> str | None:
        """The backend id of the job carrying this UWS id and token, or ``None``.

        Used to adopt a submission whose id the dispatcher never recorded.
        """
        ...

    def submit_many(self, specs: Sequence[JobSpec], tokens: Sequence[str]) -> list[Submission]:
        """Submit several jobs of one type at once (job array, itemdata cluster).

        Backends without bulk submission implement it as a loop over
        :meth:`submit`; the answer is in the order of ``specs``.
        """
        ...

    def poll(self, handles: Mapping[str, JobHandle]) -> dict[str, BackendStatus]:
        """Report on several jobs at once.

        ``handles`` maps UWS job ids to their handles; the answer is keyed by
        UWS job id. A job the backend no longer knows is reported as
        ``UNKNOWN`` (the dispatcher applies a grace period before erroring it).
        """
        ...

    def cancel(self, job_id: str, handle: JobHandle) -> None:
        """Stop the job and everything it started (whole process group/cluster job)."""
        ...

    def update_duration(self, job_id: str, handle: JobHandle, seconds: int) -> None:
        """Apply a new execution-duration limit to a queued or running job."""
        ...

    def orphans(self, known_job_ids: Iterable[str]) -> list[str]:
        """Backend ids of jobs tagged by this service whose UWS id is not known."""
        ...

    def close(self) -> None:
        """Release resources (child processes, connections)."""
        ...
