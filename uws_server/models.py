"""SQLAlchemy models: job types (with revisions), jobs, parameters, results, history.

Every schema change goes through an Alembic migration in
``uws_server/migrations/versions``; the models here and the newest migration
must describe the same tables (a test compares them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .timeutil import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime stored without zone and always read back as aware UTC.

    SQLite keeps no zone; storing naive UTC everywhere keeps both databases
    alike and comparisons in SQL correct.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    """The declarative base of every table."""


class JobType(Base):
    """A job type: unique by (name, version); its manifest lives in revisions."""

    __tablename__ = "job_types"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_job_types_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    icon_code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    max_scheduled: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_tries: Mapped[int] = mapped_column(Integer, default=3)
    docker_image: Mapped[str] = mapped_column(String(255), default="")
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    unmet_resources: Mapped[str | None] = mapped_column(String(255), nullable=True)
    revision_num: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    deprecated: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paused: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)

    revisions: Mapped[list[JobTypeRevision]] = relationship(
        back_populates="job_type", order_by="JobTypeRevision.revision_num"
    )


class JobTypeRevision(Base):
    """One immutable manifest (and image) of a job type; jobs point at the one they ran."""

    __tablename__ = "job_type_revisions"
    __table_args__ = (
        UniqueConstraint("job_type_id", "revision_num", name="uq_job_type_revisions_num"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("job_types.id", ondelete="CASCADE"))
    revision_num: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    docker_image: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(255), nullable=True)

    job_type: Mapped[JobType] = relationship(back_populates="revisions")


class Batch(Base):
    """A batch: many jobs of one job type (revision) with one hardware request (docs/batches.md).

    Its jobs are ordinary jobs pointing here by ``jobs.batch_id``; their
    statuses are counted from the jobs themselves, never cached here.
    """

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    job_type_name: Mapped[str] = mapped_column(String(255))
    job_type_version: Mapped[str] = mapped_column(String(255))
    revision_id: Mapped[int] = mapped_column(ForeignKey("job_type_revisions.id"))
    #: Cores and MiB each job gets: as requested, else the manifest's defaults.
    cpu: Mapped[float | None] = mapped_column(Float, nullable=True)
    memory_mib: Mapped[float | None] = mapped_column(Float, nullable=True)
    filesystems: Mapped[list[str]] = mapped_column(JSON, default=list)
    n_jobs: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class Job(Base):
    """One UWS job. ``phase`` is written only by ``services.phase.transition``."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The job lists, newest first (creation time, then id): LAST, AFTER and the
        # keyset chunks of a streamed list read these in order and stop early.
        Index("ix_jobs_list", "job_type_name", "creation_time", "id"),
        Index("ix_jobs_list_phase", "job_type_name", "phase", "creation_time", "id"),
        Index("ix_jobs_phase", "phase"),
        # A batch's jobs in order (paging), and its status counts from the index alone.
        Index("ix_jobs_batch_order", "batch_id", "batch_index"),
        Index("ix_jobs_batch_status", "batch_id", "deleted", "phase", "submit_token",
              "backend_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_type_name: Mapped[str] = mapped_column(String(255))
    revision_id: Mapped[int] = mapped_column(ForeignKey("job_type_revisions.id"))
    owner_id: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phase: Mapped[str] = mapped_column(String(16))
    creation_time: Mapped[datetime] = mapped_column(UTCDateTime)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    destruction_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    quote: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    execution_duration: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    error_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Dispatcher bookkeeping; the executors keep no state of their own.
    executor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    submit_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    backend_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    backend_cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_exceeded: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_dirty: Mapped[bool] = mapped_column(Boolean, default=False)
    release_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    unknown_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    upload_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    #: Whether the job has (or had) webhook subscriptions: phase changes of jobs without
    #: any look nothing up (``services.notifications``).
    notify: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Batch jobs (services.batches): the batch, the set's index in it, and the hardware
    # asked for (NULL: the manifest's resources; dispatch.spec puts these in the request).
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), nullable=True)
    batch_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    req_cpu: Mapped[int | None] = mapped_column(Integer, nullable=True)
    req_memory_mib: Mapped[int | None] = mapped_column(Integer, nullable=True)
    filesystems: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    #: The job this one was resubmitted from (``/jobs/v2`` ``resubmit``); no foreign key.
    resubmitted_from: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)

    revision: Mapped[JobTypeRevision] = relationship(lazy="select")
    parameters: Mapped[list[JobParameter]] = relationship(
        back_populates="job",
        order_by="JobParameter.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    results: Mapped[list[JobResult]] = relationship(
        back_populates="job",
        order_by="JobResult.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


def _partial(name: str, *columns: Any, where: Any) -> Index:
    """An index of only the rows ``where`` holds, on both databases.

    ``where`` must be written exactly as the queries that should use the index
    write it (SQLite matches partial indexes by the form of the expression).
    """
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


#: The dispatcher's scans for the rare jobs that need it (see ``dispatch/dispatcher.py``):
#: their cost follows the number of such jobs, not of the finished jobs in the table.
_partial("ix_jobs_deleted", Job.creation_time, where=Job.deleted.is_(True))
_partial("ix_jobs_destruction", Job.destruction_time,
         where=and_(Job.deleted.is_(False), Job.phase != literal_column("'ARCHIVED'")))
_partial("ix_jobs_cancel_requested", Job.creation_time, where=Job.cancel_requested.is_(True))
_partial("ix_jobs_release_requested", Job.creation_time,
         where=Job.release_requested.is_(True))
_partial("ix_jobs_duration_dirty", Job.creation_time, where=Job.duration_dirty.is_(True))


class JobParameter(Base):
    """One parameter value; a file parameter's value is the stored file's relative path."""

    __tablename__ = "job_parameters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)
    is_file: Mapped[bool] = mapped_column(Boolean, default=False)
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)

    job: Mapped[Job] = relationship(back_populates="parameters")


class JobResult(Base):
    """One result file of a job, stored under the job's directory."""

    __tablename__ = "job_results"
    __table_args__ = (UniqueConstraint("job_id", "result_id", name="uq_job_results_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    result_id: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    mime_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    job: Mapped[Job] = relationship(back_populates="results")


class JobEvent(Base):
    """The history of a job: every phase change, who made it and why."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_phase: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_phase: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: ``phase`` for a phase change; ``grant``, ``parameters``... for other writes.
    kind: Mapped[str] = mapped_column(String(32), default="phase", server_default="phase")


class DispatcherLease(Base):
    """Which dispatcher may act on the backends now (one at a time).

    ``epoch`` grows by one each time the lease changes hands: a dispatcher
    remembers the epoch it took and submits only while the row still shows it,
    so a holder that was paused past its lease cannot act on a job its
    successor has taken over (a fencing token).
    """

    __tablename__ = "dispatcher_lease"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class User(Base):
    """Someone who may call the service: a name, a role, groups and quota overrides.

    ``quotas`` holds only the limits set for this user; the others come from settings.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    quotas: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = mapped_column(UTCDateTime)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiToken(Base):
    """An API token of a user; only a hash of its secret is kept (see ``auth.tokens``)."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64), default="")
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class JobGrant(Base):
    """A permission on one job given to another user (``auth.permissions`` bits)."""

    __tablename__ = "job_grants"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                        primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    permission: Mapped[int] = mapped_column(Integer)
    granted_by: Mapped[str] = mapped_column(String(255))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobSubscription(Base):
    """A webhook subscription of a job: POST to ``url`` when ``event`` happens.

    ``event`` is a UWS phase, an Agave-style status or ``*`` (every phase change). A
    subscription that is not ``persistent`` fires once and is then ``active`` no more.
    """

    __tablename__ = "job_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(32))
    persistent: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Which signing key signs its deliveries (``default``: the service's UWS_WEBHOOK_SECRET).
    key_id: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    #: The job's URL as the client who subscribed saw it (the payload's ``job.url``).
    job_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationDelivery(Base):
    """The outbox: one webhook call to make, written with the phase change that caused it.

    ``state`` is ``pending`` until it is ``delivered``, ``expired`` (retried for longer than
    UWS_WEBHOOK_MAX_AGE) or ``refused`` (the URL guard refuses the destination now). A
    sender claims a pending row by pushing ``next_attempt_at`` past its attempt's timeout, so
    a sender killed mid-attempt leaves it to be tried again (at least once).
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("job_subscriptions.id", ondelete="SET NULL"), nullable=True)
    url: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32), default="default", server_default="default")
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body that is signed and sent
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
