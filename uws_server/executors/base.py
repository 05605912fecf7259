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

:class:`Executor` is an abstract base class: what every backend must do is
abstract, and every optional feature (holding and releasing jobs, orphan
removal, bulk submission, lookup and cancellation, slot costs, a poll rate
limit, a duration grace) is declared there with its default, so the
dispatcher calls plain methods and reads plain attributes and never probes a
backend for what it happens to offer.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


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
    attempt
        Which submission of the job this is (its ``tries`` once claimed; 0:
        unknown). A backend that records submissions may refuse an attempt
        older than the one it recorded: a stale dispatcher's late call.
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
    attempt: int = 0

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
    ``disk_full`` says the job failed because its filesystem is full (ENOSPC):
    never retried, whatever the manifest's error categories say, since a retry
    would only fill the disk again.
    """

    state: BackendState
    exit_code: int | None = None
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    system_failure: bool = False
    cancelled_by_service: bool = False
    cursor: str | None = None
    disk_full: bool = False


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


#: The workdir of the handle :meth:`Executor.remove_orphan` cancels through by default:
#: an orphan has no UWS job, hence no job directory. It never exists.
ORPHAN_WORKDIR = Path("/nonexistent/uws-orphan")


class Executor(abc.ABC):
    """The interface of every execution backend.

    Subclasses implement the abstract methods and set :attr:`name`; they
    override an optional feature's default only when the backend has it,
    and say so in the matching attribute (:attr:`can_hold`,
    :attr:`supports_bulk_submit`).

    Every method may raise :class:`ExecutorError`. None of them may block
    for long: each has its own deadline (a hung scheduler must not stall the
    dispatcher), after which it raises a transient :class:`ExecutorError`.

    Attributes
    ----------
    name
        The backend's name, recorded with each job (``"local"``, ``"slurm"``...).
    can_hold
        Whether the backend can hold a job (report it ``HELD``) until it is
        released. A backend that can must implement :meth:`release`.
    supports_bulk_submit
        Whether :meth:`submit_many` is more than a loop over :meth:`submit`
        (job arrays, itemdata clusters).
    min_poll_interval
        Least seconds between two :meth:`poll` calls, for backends whose
        queries load their scheduler; 0 lets the dispatcher poll every tick.
    duration_grace
        Seconds past a job's execution duration before the dispatcher aborts
        it itself, leaving a backend that enforces limits the time to do so.
    """

    name: str
    can_hold: bool = False
    supports_bulk_submit: bool = False
    min_poll_interval: float = 0.0
    duration_grace: float = 0.0

    # -- what every backend does -----------------------------------------------------

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more jobs the backend will take now (a large number for clusters)."""

    @abc.abstractmethod
    def submit(self, spec: JobSpec, token: str) -> Submission:
        """Start or enqueue the job; tag it with ``spec.job_id`` and ``token``."""

    @abc.abstractmethod
    def find(self, job_id: str, token: str) -> str | None:
        """The backend id of the job carrying this UWS id and token, or ``None``.

        Used to adopt a submission whose id the dispatcher never recorded.
        """

    @abc.abstractmethod
    def poll(self, handles: Mapping[str, JobHandle]) -> dict[str, BackendStatus]:
        """Report on several jobs at once.

        ``handles`` maps UWS job ids to their handles; the answer is keyed by
        UWS job id. A job the backend no longer knows is reported as
        ``UNKNOWN`` (the dispatcher applies a grace period before erroring it).
        """

    @abc.abstractmethod
    def cancel(self, job_id: str, handle: JobHandle) -> None:
        """Stop the job and everything it started (whole process group/cluster job)."""

    @abc.abstractmethod
    def update_duration(self, job_id: str, handle: JobHandle, seconds: int) -> None:
        """Apply a new execution-duration limit to a queued or running job."""

    @abc.abstractmethod
    def orphans(self, known_job_ids: Iterable[str]) -> list[str]:
        """Backend ids of jobs tagged by this service whose UWS id is not known."""

    # -- optional features, with their defaults ----------------------------------------

    def submit_many(self, specs: Sequence[JobSpec], tokens: Sequence[str]) -> list[Submission]:
        """Submit several jobs of one type at once; the answer is in the order of ``specs``.

        The default is a loop over :meth:`submit`; backends with job arrays or
        itemdata clusters override it and set :attr:`supports_bulk_submit`.
        """
        if len(specs) != len(tokens):
            raise ExecutorError("submit_many needs as many tokens as specs", transient=False)
        return [self.submit(spec, token) for spec, token in zip(specs, tokens, strict=True)]

    def find_many(self, wanted: Mapping[str, str]) -> dict[str, str]:
        """:meth:`find` for several jobs at once: ``{job_id: token}`` → ``{job_id: backend id}``.

        Jobs the backend does not know are left out of the answer. The default
        is a loop over :meth:`find`; backends that can list all of this
        service's jobs in one query (Slurm, HTCondor) override it, so that
        adopting a whole bulk submission cut short by a crash costs one query,
        not one per job.
        """
        found: dict[str, str] = {}
        for job_id, token in wanted.items():
            backend_id = self.find(job_id, token)
            if backend_id is not None:
                found[job_id] = backend_id
        return found

    def cancel_many(self, handles: Mapping[str, JobHandle]) -> None:
        """:meth:`cancel` for several jobs at once (``{job_id: handle}``).

        The default is a loop over :meth:`cancel`; backends override it with
        one command for all (one ``scancel``, one ``condor_rm``), so that
        aborting a whole batch is one call. Cancelling a job that is already
        over is not an error, as for :meth:`cancel`.
        """
        for job_id, handle in handles.items():
            self.cancel(job_id, handle)

    def slots_needed(self, spec: JobSpec) -> int:
        """How many of :meth:`free_slots` the job takes (1 by default: one job, one slot).

        A backend whose slots are cores (the local executor) answers the cores
        the job asks for, and raises a permanent :class:`ExecutorError` for a
        job that could never fit, so that it ends in ERROR instead of waiting
        forever.
        """
        return 1

    def release(self, job_id: str, handle: JobHandle) -> None:
        """Let a job the backend holds run again (a client ran a HELD job, ``PHASE=RUN``).

        Releasing a job that is no longer held (already released, running,
        finished, gone) is not an error: the next :meth:`poll` tells where it
        is. The default refuses, permanently: a backend that cannot hold jobs
        (:attr:`can_hold` false) never reports one ``HELD``, so a release
        asked of it is a bug to be logged, not retried. Backends that can
        hold jobs override this.
        """
        raise ExecutorError(
            f"the {self.name} executor cannot hold jobs, so it cannot release job {job_id}",
            transient=False,
        )

    def remove_orphan(self, backend_id: str) -> None:
        """Stop a job :meth:`orphans` listed.

        The default cancels it through a handle whose workdir is
        :data:`ORPHAN_WORKDIR` (an orphan has no job directory); backends whose
        :meth:`cancel` writes into the workdir, or that record why a job was
        removed, override this.
        """
        self.cancel("", JobHandle(backend_id, ORPHAN_WORKDIR))

    def close(self) -> None:  # noqa: B027 (an optional hook: empty on purpose, not abstract)
        """Release resources (child processes, connections); the default has none."""
