"""A fake execution backend that outlives the dispatcher, for crash-window tests.

``FakeBackend`` plays the batch system: it keeps every submitted job (so a test
can count submissions) and survives "crashes" of the dispatcher, which are
simulated by raising :class:`SimulatedCrash` (a BaseException, so no handler
in the dispatcher swallows it) at chosen points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from uws_server.executors.base import (
    BackendState,
    BackendStatus,
    Executor,
    ExecutorError,
    JobHandle,
    JobSpec,
    Submission,
)


class SimulatedCrash(BaseException):
    """The dispatcher process dies here."""


@dataclass
class BackendJob:
    """One job as the fake batch system knows it."""

    backend_id: str
    job_id: str
    token: str
    spec: JobSpec
    state: BackendState = BackendState.QUEUED
    exit_code: int | None = None
    cancelled: bool = False


@dataclass
class FakeBackend:
    """The batch system's state: queue and history in one list."""

    jobs: list[BackendJob] = field(default_factory=list)
    crash_before_accept: bool = False
    crash_after_accept: bool = False
    unavailable: bool = False

    def submissions_for(self, job_id: str) -> list[BackendJob]:
        """Every backend job ever submitted for a UWS job."""
        return [j for j in self.jobs if j.job_id == job_id]


class FakeExecutor(Executor):
    """An Executor over a :class:`FakeBackend`."""

    name = "fake"

    def __init__(self, backend: FakeBackend, slots: int = 100) -> None:
        self.backend = backend
        self.slots = slots
        self.durations: dict[str, int] = {}

    def free_slots(self) -> int:
        running = sum(1 for j in self.backend.jobs
                      if j.state in (BackendState.QUEUED, BackendState.EXECUTING))
        return max(0, self.slots - running)

    def submit(self, spec: JobSpec, token: str) -> Submission:
        if self.backend.unavailable:
            raise ExecutorError("scheduler not answering", transient=True)
        if self.backend.crash_before_accept:
            self.backend.crash_before_accept = False
            raise SimulatedCrash("before the backend accepted the job")
        job = BackendJob(f"fake.{len(self.backend.jobs)}", spec.job_id, token, spec)
        self.backend.jobs.append(job)
        if self.backend.crash_after_accept:
            self.backend.crash_after_accept = False
            raise SimulatedCrash("after the backend accepted the job")
        return Submission(job.backend_id)

    def submit_many(self, specs: Sequence[JobSpec], tokens: Sequence[str]) -> list[Submission]:
        return [self.submit(s, t) for s, t in zip(specs, tokens, strict=True)]

    def find(self, job_id: str, token: str) -> str | None:
        found = [j for j in self.backend.jobs if j.job_id == job_id and j.token == token]
        return found[0].backend_id if found else None

    def _get(self, backend_id: str) -> BackendJob | None:
        return next((j for j in self.backend.jobs if j.backend_id == backend_id), None)

    def poll(self, handles: Mapping[str, JobHandle]) -> dict[str, BackendStatus]:
        report = {}
        for job_id, handle in handles.items():
            job = self._get(handle.backend_id)
            if job is None:
                report[job_id] = BackendStatus(BackendState.UNKNOWN)
            else:
                report[job_id] = BackendStatus(job.state, exit_code=job.exit_code,
                                               cancelled_by_service=job.cancelled,
                                               reason="cancelled" if job.cancelled else None)
        return report

    def cancel(self, job_id: str, handle: JobHandle) -> None:
        job = self._get(handle.backend_id)
        if job is not None:
            job.state, job.cancelled = BackendState.CANCELLED, True

    def update_duration(self, job_id: str, handle: JobHandle, seconds: int) -> None:
        self.durations[job_id] = seconds

    def orphans(self, known_job_ids: Iterable[str]) -> list[str]:
        known = set(known_job_ids)
        return [j.backend_id for j in self.backend.jobs if j.job_id not in known]

    def close(self) -> None:
        pass

    # -- test controls -------------------------------------------------------------------
    def finish(self, job_id: str, exit_code: int = 0) -> None:
        """Make every backend job of a UWS job end with an exit code."""
        for job in self.backend.submissions_for(job_id):
            if job.state in (BackendState.QUEUED, BackendState.EXECUTING):
                if exit_code == 0:
                    (job.spec.output_dir / "result.txt").write_text("done")
                job.exit_code = exit_code
                job.state = BackendState.COMPLETED if exit_code == 0 else BackendState.FAILED

    def start(self, job_id: str) -> None:
        """Make queued backend jobs of a UWS job run."""
        for job in self.backend.submissions_for(job_id):
            if job.state is BackendState.QUEUED:
                job.state = BackendState.EXECUTING


class HoldingFakeExecutor(FakeExecutor):
    """A fake whose backend can hold jobs and release them (as HTCondor does)."""

    can_hold = True

    def __init__(self, backend: FakeBackend, slots: int = 100) -> None:
        super().__init__(backend, slots)
        self.released: list[str] = []

    def hold(self, job_id: str) -> None:
        """The backend holds every live job of a UWS job."""
        for job in self.backend.submissions_for(job_id):
            job.state = BackendState.HELD

    def release(self, job_id: str, handle: JobHandle) -> None:
        job = self._get(handle.backend_id)
        if job is not None and job.state is BackendState.HELD:
            job.state = BackendState.QUEUED
            self.released.append(job_id)
