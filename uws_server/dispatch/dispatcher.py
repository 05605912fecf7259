"""The dispatcher: the only code that talks to execution backends.

One loop, woken by phase changes (a job queued, aborted, deleted) or by a
job process ending, and otherwise ticking every ``poll_interval`` seconds.
Each tick, in order: purge deleted jobs, reap jobs past their destruction
time, carry out aborts, recover submissions cut short by a crash, submit
queued jobs, follow active jobs, and enforce execution durations. The scans
for jobs that need something done use partial indexes (``models.py``), and
the planner's statistics are kept current (:mod:`.statistics`), so an idle
tick costs the same however many finished jobs the table holds.

Submission is idempotent: a job is committed with a fresh token *before*
the backend is called, and a job found with a token but no backend id is
looked up by that token (adopted) before it is ever submitted again. It is
also fenced (:mod:`.lease`): a dispatcher that lost its lease while paused
never reaches the backend. Inputs by URL are fetched in the background
(:mod:`.staging`), never inside the tick; :mod:`.submission` has the details.
Webhook notifications are sent by a thread beside the loop (:mod:`.webhooks`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, exists, literal_column, select
from sqlalchemy.orm import Session, selectinload

from ..executors.base import BackendState, Executor, ExecutorError, JobHandle
from ..health import BackendHealth
from ..metrics import DISPATCHER_TICK_SECONDS
from ..models import Job, NotificationDelivery
from ..phases import ACTIVE, ExecutionPhase
from ..services.transitions import transition
from ..timeutil import as_utc, utcnow
from . import outcomes
from .lease import LEASE_SECONDS, Lease
from .statistics import StatisticsKeeper
from .submission import WAITING_FOR_SUBMISSION, Submitter
from .webhooks import WebhookSender

if TYPE_CHECKING:
    from ..wiring import Components

P = ExecutionPhase
log = logging.getLogger(__name__)
ACTOR = "dispatcher"
__all__ = ["LEASE_SECONDS", "Dispatcher"]
ORPHAN_CHECK_SECONDS = 300.0
ORPHAN_DIRECTORY_AGE = 3600.0
#: Jobs per write transaction when recording recovered submissions.
RECOVER_CHUNK = 1000
#: Written as a literal, not a bound parameter: SQLite uses the partial index
#: ``ix_jobs_destruction`` only for a query whose condition reads like its own.
_NOT_ARCHIVED = Job.phase != literal_column(f"'{P.ARCHIVED.value}'")


def _duties(now: Any) -> dict[str, tuple[Any, ...]]:
    """The jobs each flag-driven step acts on, by step name (each has a partial index)."""
    return {
        "purge_deleted": (Job.deleted.is_(True),),
        "reap_expired": (Job.deleted.is_(False), Job.destruction_time < now, _NOT_ARCHIVED),
        "carry_out_aborts": (Job.deleted.is_(False), Job.cancel_requested.is_(True),
                             Job.phase.not_in([p.value for p in ACTIVE])),
        "recover_submissions": (Job.deleted.is_(False), Job.phase == P.QUEUED.value,
                                Job.submit_token.is_not(None), Job.backend_id.is_(None)),
        "release_held": (Job.deleted.is_(False), Job.release_requested.is_(True)),
        "enforce_durations": (Job.deleted.is_(False), Job.duration_dirty.is_(True)),
        "time_limits": _TIME_LIMITED,
        "submit_queued": WAITING_FOR_SUBMISSION,
        # not a step: webhook deliveries due, which kick the sender (one written on another
        # host, with no wake-up reaching this one, is seen within a tick all the same)
        "deliveries_due": (NotificationDelivery.state == "pending",
                           NotificationDelivery.next_attempt_at <= now),
    }


#: Executing jobs with a time limit: enforce_durations reads their start times.
_TIME_LIMITED = (Job.deleted.is_(False), Job.phase == P.EXECUTING.value,
                 Job.execution_duration > 0, Job.start_time.is_not(None))


#: Whether each flag-driven step has work: one statement, built once (building
#: statements costs more than running these on their partial indexes).
_ANY_DUE = select(*(exists().where(*where).label(name)
                    for name, where in _duties(bindparam("now")).items()))


#: Backend states that leave a job in this UWS phase when it is already there.
_STEADY = {BackendState.QUEUED: P.QUEUED.value, BackendState.EXECUTING: P.EXECUTING.value,
           BackendState.SUSPENDED: P.SUSPENDED.value, BackendState.HELD: P.HELD.value}


class Dispatcher:
    """Moves jobs between the database and one executor.

    Parameters
    ----------
    components
        Settings, database, storage and wake-up bus of this process.
    executor
        The backend jobs run on.
    """

    def __init__(self, components: Components, executor: Executor) -> None:
        self.c = components
        self.executor = executor
        self.settings = components.settings
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = Lease(components.db, self.holder, components.settings.lease_seconds)
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_orphan_check = 0.0
        self._next_poll = 0.0
        #: This tick's flag-driven steps that have jobs to act on (None outside a tick).
        self._due: dict[str, tuple[Any, ...]] | None = None
        self.submitter = Submitter(self)
        #: Webhook deliveries, sent by a thread of their own beside the loop.
        self.webhooks = WebhookSender(components.db, components.settings)
        self.backend = BackendHealth(components.settings.run_dir, executor.name)
        self.statistics = StatisticsKeeper(components.db)

    @property
    def has_lease(self) -> bool:
        """Whether this dispatcher held the lease at its last renewal or check."""
        return self.lease.held

    # -- running -----------------------------------------------------------------------
    def kick(self, _job_ids: Any = None) -> None:
        """Make the loop run a tick now (and the webhook sender look for deliveries)."""
        self._kick.set()
        self.webhooks.kick()

    def start(self) -> None:
        """Run the loop in a daemon thread (the embedded ``serve``)."""
        self.c.bus.subscribe(self.kick)
        self._thread = threading.Thread(target=self.run_forever, name="dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end and wait for it."""
        self._stop.set()
        self._kick.set()
        self.submitter.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_forever(self) -> None:
        """Tick until stopped; a failing step is logged and retried next tick."""
        log.info("dispatcher %s started (executor %s)", self.holder, self.executor.name)
        self.webhooks.start()
        while not self._stop.is_set():
            self._kick.clear()
            try:
                self.tick()
            except Exception:
                log.exception("dispatcher tick failed")
            self._kick.wait(self.settings.poll_interval)
        self.webhooks.stop()
        self.lease.release()
        log.info("dispatcher %s stopped", self.holder)

    def tick(self) -> None:
        """One pass over every duty, each step in its own transaction."""
        was_active = self.has_lease
        if not self.lease.renew():
            return
        if not was_active:
            self._log_adoptions()
        started = time.perf_counter()
        self._due = self._find_duties()
        try:
            self._steps()
        finally:
            self._due = None
        DISPATCHER_TICK_SECONDS.labels(self.executor.name).observe(time.perf_counter() - started)

    def _steps(self) -> None:
        for step in (self.purge_deleted, self.reap_expired, self.carry_out_aborts,
                     self.recover_submissions, self.release_held, self.submit_queued,
                     self.follow_active, self.enforce_durations, self.remove_orphans,
                     self.keep_statistics):
            try:
                step()
            except Exception:
                log.exception("dispatcher step %s failed", step.__name__)

    def _find_duties(self) -> dict[str, tuple[Any, ...]]:
        """Which flag-driven steps have work, in one statement (one round trip).

        An idle tick then costs this statement, the lease and the active-job
        queries, whatever the number of finished jobs in the table.
        """
        now = utcnow()
        with self.c.db.read() as session:
            row = session.execute(_ANY_DUE, {"now": now}).one()
        due = [name for name, found in row._mapping.items() if found]
        if "deliveries_due" in due:
            self.webhooks.kick()
        return {name: where for name, where in _duties(now).items() if name in due} if due else {}

    def _log_adoptions(self) -> None:
        """One line per job a previous dispatcher left running: this one follows it now."""
        with self.c.db.read() as session:
            rows = session.execute(
                select(Job.id, Job.job_type_name, Job.owner_id, Job.backend_id, Job.phase)
                .where(Job.deleted.is_(False), Job.backend_id.is_not(None),
                       Job.phase.in_([p.value for p in ACTIVE]))).all()
        for row in rows:
            log.info("job %s adopted after a restart: %s backend job %s, %s (type %s, owner %s)",
                     row.id, self.executor.name, row.backend_id, row.phase, row.job_type_name,
                     row.owner_id or "-",
                     extra={"job_id": row.id, "job_type": row.job_type_name,
                            "owner": row.owner_id, "backend_id": row.backend_id,
                            "phase": row.phase})

    # -- helpers -------------------------------------------------------------------------
    def _handle(self, job: Job) -> JobHandle:
        assert job.backend_id is not None
        return JobHandle(job.backend_id, self.c.storage.job_dir(job.id).resolve(),
                         job.backend_cursor)

    def is_due(self, duty: str) -> bool:
        """Whether a flag-driven step may have work (always, for a step called on its own)."""
        return self._due is None or duty in self._due

    def _for_each_due(self, duty: str, action: Callable[[Session, Job], None]) -> None:
        """:meth:`_for_each` over the jobs of a flag-driven step, if this tick found any."""
        if self._due is None:  # a step called on its own: look
            self._for_each(_duties(utcnow())[duty], action)
        elif duty in self._due:
            self._for_each(self._due[duty], action)

    def _for_each(self, where: tuple[Any, ...], action: Callable[[Session, Job], None]) -> None:
        """Run ``action`` on each matching job, one transaction per job."""
        with self.c.db.read() as session:  # ids only: each job is loaded in its own transaction
            ids = list(session.scalars(select(Job.id).where(*where).order_by(Job.creation_time)))
        for job_id in ids:
            try:
                with self.c.db.write() as session:
                    self.lease.bound_pause(session)
                    job = session.get(Job, job_id, options=[selectinload(Job.parameters),
                                                            selectinload(Job.results)])
                    if job is not None:
                        action(session, job)
            except ExecutorError as exc:
                log.warning("job %s: backend unavailable (%s); will retry", job_id, exc,
                            extra={"job_id": job_id, "executor": self.executor.name})
            except Exception:
                log.exception("job %s: dispatcher action failed", job_id)

    def _cancel_in_bulk(self, where: tuple[Any, ...]) -> set[str] | None:
        """Cancel the backend jobs of every job matching ``where`` in one call, when several.

        Jobs claimed but unrecorded are looked up by token first (one
        :meth:`~.Executor.find_many`). Returns the ids dealt with (an empty set
        for fewer than two jobs: the caller cancels one by one), or ``None``
        when the backend failed (the step is retried next tick).
        """
        with self.c.db.read() as session:
            rows = session.execute(select(Job.id, Job.backend_id, Job.backend_cursor,
                                          Job.submit_token).where(*where)).all()
        if len(rows) < 2:
            return set()
        lookup = {row.id: row.submit_token for row in rows
                  if row.backend_id is None and row.submit_token is not None}
        try:
            found = self.executor.find_many(lookup) if lookup else {}
            handles = {row.id: JobHandle(row.backend_id or found[row.id],
                                         self.c.storage.job_dir(row.id).resolve(),
                                         row.backend_cursor)
                       for row in rows if row.backend_id is not None or row.id in found}
            if handles:
                self.executor.cancel_many(handles)
        except ExecutorError as exc:
            log.warning("cannot cancel %d jobs on %s (%s); will retry", len(rows),
                        self.executor.name, exc, extra={"executor": self.executor.name})
            return None
        if handles:
            log.info("cancelled %d backend jobs on %s in one call", len(handles),
                     self.executor.name, extra={"executor": self.executor.name})
        return {row.id for row in rows}

    def _cancel_backend(self, job: Job) -> None:
        """Cancel the backend job, adopting a submission whose id was never recorded."""
        if job.backend_id is None and job.submit_token is not None:
            job.backend_id = self.executor.find(job.id, job.submit_token)
        if job.backend_id is not None:
            self.executor.cancel(job.id, self._handle(job))

    # -- steps ---------------------------------------------------------------------------
    def purge_deleted(self) -> None:
        """Destroyed jobs: stop their backend job, remove their files, forget them."""
        if not self.is_due("purge_deleted"):
            return
        done = self._cancel_in_bulk((Job.deleted.is_(True), Job.cancel_requested.is_(True)))
        if done is None:
            return

        def purge(session: Session, job: Job) -> None:
            if job.cancel_requested and job.id not in done:
                self._cancel_backend(job)
            self.c.storage.remove(job.id)
            session.delete(job)

        self._for_each_due("purge_deleted", purge)

    def reap_expired(self) -> None:
        """Jobs past their destruction time: deleted, or ARCHIVED by configuration."""
        archive = self.settings.destruction_policy == "archive"

        def reap(session: Session, job: Job) -> None:
            phase = P(job.phase)
            if phase in ACTIVE or phase is P.PENDING:
                job.cancel_requested = job.backend_id is not None or job.submit_token is not None
                if job.cancel_requested:
                    self._cancel_backend(job)
                    job.cancel_requested = False
                transition(session, job, P.ABORTED, actor=ACTOR, note="destruction time reached",
                           error_type="fatal", error_message="destruction time reached")
            if not archive:
                self.c.storage.remove(job.id)
                session.delete(job)
                return
            self.c.storage.remove_outputs(job.id)
            job.results.clear()
            transition(session, job, P.ARCHIVED, actor=ACTOR, note="destruction time reached")

        self._for_each_due("reap_expired", reap)

    def carry_out_aborts(self) -> None:
        """Aborted jobs still known to a backend: cancel them there, keep their results."""
        if not self.is_due("carry_out_aborts"):
            return
        where = (Job.deleted.is_(False), Job.cancel_requested.is_(True),
                 Job.phase.not_in([p.value for p in ACTIVE]))
        done = self._cancel_in_bulk(where)  # a batch abort: one scancel, one condor_rm
        if done is None:
            return

        def cancel(session: Session, job: Job) -> None:
            if job.id not in done:
                self._cancel_backend(job)
            job.cancel_requested = False
            outcomes.store_results(session, self.c.storage, job)

        self._for_each(where, cancel)

    def recover_submissions(self) -> None:
        """Jobs with a token but no backend id (a crash mid-submission): adopt or retry.

        All of them are looked up in one :meth:`~.Executor.find_many` (a bulk
        submission cut short leaves a whole slice so), then recorded in chunks.
        """
        if not self.is_due("recover_submissions"):
            return
        waiting = (Job.deleted.is_(False), Job.phase == P.QUEUED.value,
                   Job.submit_token.is_not(None), Job.backend_id.is_(None))
        with self.c.db.read() as session:
            wanted: dict[str, str] = {row.id: row.submit_token for row in session.execute(
                select(Job.id, Job.submit_token).where(*waiting))}
        if not wanted:
            return
        try:
            found = self.executor.find_many(wanted)
        except ExecutorError as exc:
            log.warning("cannot look up %d interrupted submissions on %s (%s); will retry",
                        len(wanted), self.executor.name, exc,
                        extra={"executor": self.executor.name})
            return
        ids = list(wanted)
        for start in range(0, len(ids), RECOVER_CHUNK):
            with self.c.db.write() as session:
                self.lease.bound_pause(session)
                for job in session.scalars(select(Job).where(
                        *waiting, Job.id.in_(ids[start:start + RECOVER_CHUNK]))):
                    if job.submit_token != wanted[job.id]:
                        continue
                    if job.id in found:
                        log.info("job %s: adopted backend job %s after an interrupted "
                                 "submission", job.id, found[job.id],
                                 extra={"job_id": job.id, "backend_id": found[job.id],
                                        "phase": job.phase})
                        job.backend_id = found[job.id]
                        job.executor = self.executor.name
                    else:
                        job.submit_token = None  # never reached the backend: submit afresh

    def release_held(self) -> None:
        """Jobs a client RAN again while the backend held them: release them there.

        A transient failure leaves the request for the next tick. A refusal
        (no right to release, a backend that cannot hold) is logged and the
        request dropped: the backend's next report puts the job back in HELD,
        which is where it is.
        """
        def act(session: Session, job: Job) -> None:
            if job.backend_id is not None and P(job.phase) in ACTIVE:
                try:
                    self.executor.release(job.id, self._handle(job))
                except ExecutorError as exc:
                    if exc.transient:
                        raise
                    log.warning("job %s: %s would not release backend job %s: %s", job.id,
                                self.executor.name, job.backend_id, exc)
                else:
                    log.info("job %s: released backend job %s", job.id, job.backend_id)
            job.release_requested = False

        self._for_each_due("release_held", act)

    def submit_queued(self) -> None:
        """Hand queued jobs to the executor (:meth:`.submission.Submitter.submit_queued`)."""
        self.submitter.submit_queued()

    def follow_active(self) -> None:
        """Poll every active job's backend status and apply it.

        Backends whose queries cost their scheduler something (Slurm) set
        ``min_poll_interval``; they are asked no more often than that.
        """
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + self.executor.min_poll_interval
        with self.c.db.read() as session:
            rows = session.execute(
                select(Job.id, Job.backend_id, Job.backend_cursor, Job.phase, Job.unknown_since)
                .where(Job.deleted.is_(False), Job.backend_id.is_not(None),
                       Job.phase.in_([p.value for p in ACTIVE]))).all()
        if not rows:
            return
        handles = {row.id: JobHandle(row.backend_id, self.c.storage.job_dir(row.id).resolve(),
                                     row.backend_cursor) for row in rows}
        unchanged = {row.id: (row.phase, row.backend_cursor) for row in rows
                     if row.unknown_since is None}
        try:
            statuses = self.executor.poll(handles)
        except ExecutorError as exc:
            self.backend.failed("poll")
            log.warning("cannot poll %s: %s", self.executor.name, exc,
                        extra={"executor": self.executor.name})
            return
        self.backend.answered()
        for job_id, status in statuses.items():
            if _STEADY.get(status.state) is not None and unchanged.get(job_id) == (
                    _STEADY[status.state], status.cursor or handles[job_id].cursor):
                continue  # nothing to write: no transaction for a job that stays as it is
            try:
                with self.c.db.write() as session:
                    self.lease.bound_pause(session)
                    job = session.get(Job, job_id, options=[selectinload(Job.parameters),
                                                            selectinload(Job.results)])
                    if job is None or job.deleted or P(job.phase) not in ACTIVE:
                        continue
                    if job.backend_id != handles[job_id].backend_id:
                        continue
                    if status.state is BackendState.HELD and job.release_requested:
                        continue  # a client ran it again: release_held lets it go next tick
                    outcomes.apply_status(session, self.c.storage, job, status,
                                          unknown_grace=self.settings.unknown_grace)
            except Exception:
                log.exception("job %s: could not apply status %s", job_id, status.state)

    def remove_orphans(self) -> None:
        """Cancel backend jobs tagged by this service that no job in the database knows.

        Runs on the first tick and then every few minutes: such jobs come from
        a submission whose job was destroyed before its id was recorded.
        """
        now = time.monotonic()
        if now < self._next_orphan_check:
            return
        self._next_orphan_check = now + ORPHAN_CHECK_SECONDS
        with self.c.db.read() as session:
            known = set(session.scalars(select(Job.id)))
        self._sweep_directories(known)
        try:
            orphans = self.executor.orphans(known)
        except ExecutorError as exc:
            self.backend.failed("orphans")
            log.warning("cannot list orphans on %s: %s", self.executor.name, exc)
            self._next_orphan_check = now + self.settings.poll_interval * 30
            return
        for backend_id in orphans:
            try:
                self.executor.remove_orphan(backend_id)
                log.warning("cancelled orphan backend job %s (no such UWS job)", backend_id)
            except ExecutorError as exc:
                log.warning("cannot cancel orphan %s: %s", backend_id, exc)

    def _sweep_directories(self, known: set[str]) -> None:
        """Remove job directories no job owns (a crash between writing files and the row).

        Only directories untouched for an hour: a job being created writes its
        directory before its row.
        """
        cutoff = time.time() - ORPHAN_DIRECTORY_AGE
        try:
            entries = list(self.c.storage.root.iterdir())
        except OSError:
            return
        for path in entries:
            name = path.name
            if len(name) != 32 or name in known or not path.is_dir():
                continue
            try:
                if path.stat().st_mtime > cutoff:
                    continue
                self.c.storage.remove(name)
                log.warning("removed job directory %s: no job owns it", name)
            except (OSError, ValueError):
                continue

    def keep_statistics(self) -> None:
        """Analyse the job tables when they changed a lot (:mod:`.statistics`)."""
        self.statistics.maybe_run()

    def enforce_durations(self) -> None:
        """Apply changed durations to backends; abort jobs that ran out of time."""
        def update(session: Session, job: Job) -> None:
            if job.backend_id is not None:
                self.executor.update_duration(job.id, self._handle(job), job.execution_duration)
            job.duration_dirty = False

        self._for_each_due("enforce_durations", update)
        if not self.is_due("time_limits"):
            return
        now = utcnow()
        grace = self.executor.duration_grace

        def expired(start: datetime | None, seconds: int) -> bool:
            return start is not None and now >= as_utc(start) + timedelta(seconds=seconds + grace)

        running = _TIME_LIMITED
        with self.c.db.read() as session:  # read first: a write transaction only when due
            due = [job_id for job_id, start, seconds in session.execute(
                select(Job.id, Job.start_time, Job.execution_duration).where(*running))
                if expired(start, seconds)]
        if not due:
            return

        def enforce(session: Session, job: Job) -> None:
            if job.start_time is None or not expired(job.start_time, job.execution_duration):
                return
            self._cancel_backend(job)
            outcomes.duration_exceeded(session, self.c.storage, job)

        self._for_each((*running, Job.id.in_(due)), enforce)
