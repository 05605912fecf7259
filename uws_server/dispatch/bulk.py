"""Bulk submission: many queued jobs of one kind handed to the backend in one call.

Used when the executor :attr:`~uws_server.executors.base.Executor.supports_bulk_submit`
(Slurm job arrays, HTCondor itemdata clusters, the local executor's one-step
start). Queued jobs are grouped by what the dispatcher can see: job type and
revision (plus :attr:`.submission.Submitter.bulk_key_columns`, a batch id for
instance), and after their specs are built by program, image and resource
request. Each group goes in *slices* of at most ``bulk_slice_size`` jobs, and
never more than the free slots and the job type's ``max_scheduled`` allow, so a
cap releases a big queue slice by slice, tick after tick.

A slice follows the one-job protocol of :mod:`.submission`, with one transaction
where that has one per job:

1. claim: one transaction that checks the lease epoch, builds every spec and
   commits a fresh token on each job (a crash from here on is recovered by
   token, :meth:`~uws_server.dispatch.dispatcher.Dispatcher.recover_submissions`
   adopting the whole slice with one :meth:`~uws_server.executors.base.Executor.find_many`);
2. fence: check and extend the lease right before the backend call;
3. one :meth:`~uws_server.executors.base.Executor.submit_many`;
4. record every backend id in one transaction.

A group of one job takes the one-job path unchanged. When the bulk call fails,
the jobs the backend did take are adopted by token; on a permanent refusal the
others are submitted one by one, so that a bad job ends in ERROR alone; on a
transient failure they keep their token and the next tick's recovery sorts
them out.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from ..executors.base import ExecutorError, JobSpec
from ..models import Job
from ..phases import ExecutionPhase
from .budget import Budget, LeaseLost, preparation_message
from .staging import PendingInput

if TYPE_CHECKING:
    from .submission import Submitter

P = ExecutionPhase
log = logging.getLogger(__name__)
#: Rows per write transaction when recording a slice (bounded statements, short locks).
RECORD_CHUNK = 1000
#: Jobs prepared between two flushes of a claim: the database session never sits idle in
#: its transaction for long (PostgreSQL ends one idle longer than the lease, lease.py).
FLUSH_EVERY = 200


@dataclasses.dataclass(frozen=True)
class Claimed:
    """A job of a slice, committed as submitting: its spec, token and slot cost."""

    job_id: str
    spec: JobSpec
    token: str
    slots: int


@dataclasses.dataclass
class Slice:
    """What claiming a slice gave: jobs to submit, jobs to stage, jobs to end."""

    claimed: list[Claimed] = dataclasses.field(default_factory=list)
    staging: list[tuple[str, list[PendingInput]]] = dataclasses.field(default_factory=list)
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def shape(spec: JobSpec) -> Hashable:
    """What jobs of one backend array or cluster must share (program, image, resources)."""
    return (spec.job_type, spec.argv[:1], spec.image, spec.resources, spec.service)


class BulkSubmitter:
    """The bulk path of a :class:`~.submission.Submitter` (same dispatcher, lease, stager)."""

    def __init__(self, submitter: Submitter) -> None:
        self.s = submitter

    @property
    def slice_size(self) -> int:
        """Most jobs per claim and per backend call (``UWS_BULK_SLICE_SIZE``)."""
        return max(1, int(self.s.d.settings.bulk_slice_size))

    def submit_rows(self, rows: Sequence[tuple[Any, ...]], budget: Budget) -> None:
        """Hand over queued jobs, given as ``(job id, type id, revision id, *keys)`` by priority.

        Raises :class:`~.budget.LeaseLost` when the lease is gone.
        """
        groups: dict[tuple[Any, ...], list[str]] = {}
        for job_id, type_id, *rest in rows:
            groups.setdefault((type_id, *rest), []).append(job_id)
        for key, ids in groups.items():
            type_id = key[0]
            while ids and budget.slots > 0:
                room = min(budget.room(type_id), self.slice_size)
                if room <= 0:
                    break
                take, ids = ids[:room], ids[room:]
                if len(take) == 1:
                    self.s.submit_counted(take[0], type_id, budget)
                else:
                    self.submit_slice(take, type_id, budget)

    def submit_slice(self, job_ids: list[str], type_id: int, budget: Budget) -> None:
        """Claim, fence, submit and record one slice; charge ``budget`` for what went."""
        got = self.claim(job_ids, budget.slots)
        for job_id, pending in got.staging:
            self.s.stager.stage(job_id, pending)
        for job_id, message in got.failed:
            log.warning("job %s: %s", job_id, message, extra={"job_id": job_id})
            self.s._fail(job_id, message)
        by_shape: dict[Hashable, list[Claimed]] = {}
        for claimed in got.claimed:
            by_shape.setdefault(shape(claimed.spec), []).append(claimed)
        for group in by_shape.values():
            went = self.hand_over(group)
            budget.charge(type_id, jobs=len(went), slots=sum(c.slots for c in went))

    def claim(self, job_ids: list[str], room: int) -> Slice:
        """Commit every job of the slice that still waits as submitting, in one transaction.

        Jobs with inputs still to fetch go to staging, jobs whose spec cannot be
        built to ``failed`` (ended after the commit), jobs needing more slots
        than remain are left as they are. Raises :class:`~.budget.LeaseLost`.
        """
        got = Slice()
        executor = self.s.d.executor
        with self.s.d.c.db.write() as session:
            if not self.s.d.lease.check(session):
                raise LeaseLost
            jobs = {job.id: job for job in session.scalars(
                select(Job).where(Job.id.in_(job_ids))
                .options(selectinload(Job.parameters)))}
            for position, job_id in enumerate(job_ids, 1):
                if position % FLUSH_EVERY == 0:
                    session.flush()  # PostgreSQL: never idle in the transaction for long
                job = jobs.get(job_id)
                if (job is None or job.deleted or job.phase != P.QUEUED.value
                        or job.submit_token is not None or job.backend_id is not None):
                    continue
                try:
                    pending = self.s.pending_inputs(job)
                    if pending:
                        got.staging.append((job_id, pending))
                        continue
                    spec = self.s.spec_of(job)
                    need = executor.slots_needed(spec)
                except SQLAlchemyError:
                    raise
                except Exception as exc:  # the job's data: this job only
                    got.failed.append((job_id, preparation_message(exc)))
                    continue
                if need > room:
                    continue  # waits for more free slots; nothing written
                room -= need
                token = uuid.uuid4().hex
                job.submit_token = token
                job.executor = executor.name
                job.tries += 1
                got.claimed.append(Claimed(job_id, dataclasses.replace(spec, attempt=job.tries),
                                           token, need))
            # A big slice may take longer to prepare than the lease lasts: the row is ours
            # (locked) all along, so renew it from now, in the claim's own commit.
            if not self.s.d.lease.check(session, extend=True):
                raise LeaseLost
        return got

    def hand_over(self, group: list[Claimed]) -> list[Claimed]:
        """Fence, submit the group in one call, record it; the jobs that reached the backend."""
        executor = self.s.d.executor
        if not self.s.d.lease.confirm():
            raise LeaseLost  # the successor recovers the tokens we committed
        try:
            submissions = executor.submit_many([c.spec for c in group], [c.token for c in group])
        except ExecutorError as exc:
            return self._after_failure(group, exc)
        found = {c.job_id: s.backend_id for c, s in zip(group, submissions, strict=True)}
        self.record(group, found)
        return group

    def _after_failure(self, group: list[Claimed], exc: ExecutorError) -> list[Claimed]:
        executor = self.s.d.executor
        log.warning("bulk submission of %d jobs to %s failed (%s): adopting what it took",
                    len(group), executor.name, exc, extra={"executor": executor.name})
        try:
            found = executor.find_many({c.job_id: c.token for c in group})
        except ExecutorError as lookup:
            log.warning("cannot look the slice up on %s (%s): the next tick recovers it",
                        executor.name, lookup)
            return []
        self.record(group, found)
        went = [c for c in group if c.job_id in found]
        if exc.transient:
            return went  # the others keep their token: recovered (adopted or retried) next tick
        for claimed in group:  # one by one: only the jobs the backend refuses end in ERROR
            if claimed.job_id not in found and self.s._submit(claimed.job_id, claimed.spec,
                                                              claimed.token):
                went.append(claimed)
        return went

    def record(self, group: list[Claimed], found: dict[str, str]) -> None:
        """Record the backend ids of a slice, a transaction per :data:`RECORD_CHUNK` jobs."""
        tokens = {c.job_id: c.token for c in group if c.job_id in found}
        ids = list(tokens)
        for start in range(0, len(ids), RECORD_CHUNK):
            chunk = ids[start:start + RECORD_CHUNK]
            with self.s.d.c.db.write() as session:
                self.s.d.lease.bound_pause(session)
                for job in session.scalars(select(Job).where(Job.id.in_(chunk))):
                    if job.submit_token == tokens[job.id]:
                        job.backend_id = found[job.id]
                    else:
                        log.error("job %s: submitted as %s, but its submission was taken "
                                  "over meanwhile (token changed)", job.id, found[job.id],
                                  extra={"job_id": job.id, "backend_id": found[job.id]})
        if ids:
            first, last = found[ids[0]], found[ids[-1]]
            log.info("%d jobs submitted to %s in bulk (%s .. %s)", len(ids),
                     self.s.d.executor.name, first, last,
                     extra={"executor": self.s.d.executor.name, "backend_id": first})
