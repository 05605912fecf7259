"""The job-type registry's reads: names, versions, revisions, and job statistics per type.

Filtering and ordering of job types happen in Python over the (small) set of
registered versions, so semantic version order and keyword search over the
manifest's tags behave the same on every database. Job statistics are
aggregated in SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session

from ..errors import InvalidParameter, ResourceNotFound, UnknownJobType
from ..models import Job, JobEvent, JobType, JobTypeRevision
from ..phases import ExecutionPhase
from .service import version_key

P = ExecutionPhase

#: Fields ``order`` accepts on ``/v6/job-types/``.
TYPE_ORDER_FIELDS = ("id", "name", "version", "title", "description", "icon_code",
                     "is_published", "is_active", "is_paused", "is_system", "max_scheduled",
                     "max_tries", "revision_num", "docker_image", "unmet_resources", "created",
                     "deprecated", "paused", "last_modified")
#: Fields ``order`` accepts on ``/v6/job-type-names/``.
NAME_ORDER_FIELDS = ("name", "title", "description", "icon_code", "is_published",
                     "latest_version", "num_versions")
#: Scale's job status for each UWS phase (the statistics report both).
SCALE_STATUS = {"PENDING": "PENDING", "QUEUED": "QUEUED", "EXECUTING": "RUNNING",
                "COMPLETED": "COMPLETED", "ERROR": "FAILED", "ABORTED": "CANCELED",
                "HELD": "BLOCKED", "SUSPENDED": "SUSPENDED", "UNKNOWN": "UNKNOWN",
                "ARCHIVED": "ARCHIVED"}


@dataclass
class Filters:
    """The filters of the list endpoints; empty lists and ``None`` filter nothing."""

    keywords: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    is_active: bool | None = None
    is_system: bool | None = None


@dataclass
class NameSummary:
    """One job type name with its versions (the latest, by semantic version, describes it)."""

    latest: JobType
    versions: list[str]

    @property
    def name(self) -> str:
        """The job type's name."""
        return self.latest.name


def _sort_key(value: Any) -> tuple[Any, ...]:
    return (value is None, value if value is not None else 0)


def sort_by(items: list[Any], order: Sequence[str], get: Callable[[Any, str], Any],
            allowed: Sequence[str]) -> list[Any]:
    """Sort by several fields, each ``-``-prefixed for descending; nulls sort last.

    Raises
    ------
    InvalidParameter
        An ``order`` field that is not one of ``allowed``.
    """
    for spec in order:
        if spec.lstrip("-") not in allowed:
            raise InvalidParameter(f"order: unknown field {spec.lstrip('-')!r} (one of: "
                                   + ", ".join(allowed) + ")")
    result = list(items)
    for spec in reversed(order):
        name = spec.lstrip("-")

        def key(item: Any, field_name: str = name) -> tuple[Any, ...]:
            return _sort_key(get(item, field_name))

        result.sort(key=key, reverse=spec.startswith("-"))
    return result


def _type_value(job_type: JobType, name: str) -> Any:
    value = getattr(job_type, name)
    if name == "version":
        return version_key(value)
    return value.casefold() if isinstance(value, str) else value


def find_version(session: Session, name: str, version: str) -> JobType | None:
    """One version of a job type, or ``None``."""
    return session.scalars(select(JobType).where(JobType.name == name,
                                                 JobType.version == version)).one_or_none()


def get_version(session: Session, name: str, version: str) -> JobType:
    """One version of a job type; 404 when the name or the version is unknown."""
    found = find_version(session, name, version)
    if found is None:
        if session.scalars(select(JobType.id).where(JobType.name == name).limit(1)).first():
            raise UnknownJobType(f"job type {name!r} has no version {version!r}")
        raise UnknownJobType(f"no job type named {name!r}")
    return found


def _all(session: Session) -> list[tuple[JobType, JobTypeRevision]]:
    """Every job type version with its current revision."""
    rows = session.execute(
        select(JobType, JobTypeRevision).join(
            JobTypeRevision, (JobTypeRevision.job_type_id == JobType.id)
            & (JobTypeRevision.revision_num == JobType.revision_num))
        .order_by(JobType.name, JobType.id))
    return [(job_type, revision) for job_type, revision in rows]


def _matches(job_type: JobType, revision: JobTypeRevision, filters: Filters) -> bool:
    if filters.ids and job_type.id not in filters.ids:
        return False
    if filters.is_active is not None and job_type.is_active != filters.is_active:
        return False
    if filters.is_system is not None and job_type.is_system != filters.is_system:
        return False
    if filters.keywords:
        job = (revision.manifest or {}).get("job") or {}
        tags = [t for t in job.get("tags") or [] if isinstance(t, str)]
        haystack = [job_type.name, job_type.title or "", *tags]
        return any(k.casefold() in h.casefold() for k in filters.keywords for h in haystack)
    return True


def list_types(session: Session, filters: Filters, order: Sequence[str]) -> list[JobType]:
    """``/v6/job-types/``: every version that matches, by ``order`` (default name, version)."""
    rows = [t for t, r in _all(session) if _matches(t, r, filters)]
    return sort_by(rows, [*order, "name", "version", "id"], _type_value, TYPE_ORDER_FIELDS)


def list_names(session: Session, filters: Filters, order: Sequence[str]) -> list[NameSummary]:
    """``/v6/job-type-names/``: each name with one version that matches the filters."""
    by_name: dict[str, list[JobType]] = {}
    matched: set[str] = set()
    for job_type, revision in _all(session):
        by_name.setdefault(job_type.name, []).append(job_type)
        if _matches(job_type, revision, filters):
            matched.add(job_type.name)
    summaries = []
    for name in matched:
        versions = sorted(by_name[name], key=lambda t: version_key(t.version))
        summaries.append(NameSummary(versions[-1], [t.version for t in versions]))

    def value(summary: NameSummary, key: str) -> Any:
        if key == "latest_version":
            return version_key(summary.latest.version)
        if key == "num_versions":
            return len(summary.versions)
        return _type_value(summary.latest, key)

    return sort_by(summaries, [*order, "name"], value, NAME_ORDER_FIELDS)


def versions_of(session: Session, name: str, is_active: bool | None) -> list[JobType]:
    """``/v6/job-types/{name}/``: the versions of a name, newest first; 404 if none exist."""
    rows = list(session.scalars(select(JobType).where(JobType.name == name)))
    if not rows:
        raise UnknownJobType(f"no job type named {name!r}")
    rows = [r for r in rows if is_active is None or r.is_active == is_active]
    return sorted(rows, key=lambda t: version_key(t.version), reverse=True)


def revisions_of(session: Session, name: str, version: str
                 ) -> tuple[JobType, list[JobTypeRevision]]:
    """``.../revisions/``: a version's revisions, newest first."""
    job_type = get_version(session, name, version)
    revisions = list(session.scalars(
        select(JobTypeRevision).where(JobTypeRevision.job_type_id == job_type.id)
        .order_by(JobTypeRevision.revision_num.desc())))
    return job_type, revisions


def revision_of(session: Session, name: str, version: str, number: int
                ) -> tuple[JobType, JobTypeRevision]:
    """``.../revisions/{revision_num}/``: one revision; 404 if it does not exist."""
    job_type = get_version(session, name, version)
    revision = session.scalars(select(JobTypeRevision).where(
        JobTypeRevision.job_type_id == job_type.id,
        JobTypeRevision.revision_num == number)).one_or_none()
    if revision is None:
        raise ResourceNotFound(f"job type {name} {version} has no revision {number}")
    return job_type, revision


# -- statistics ------------------------------------------------------------------------------
@dataclass
class StatusCount:
    """Jobs of one type in one phase (and, for ERROR, one category)."""

    phase: str
    category: str | None
    count: int
    most_recent: datetime | None

    @property
    def status(self) -> str:
        """Scale's name of the phase."""
        return SCALE_STATUS.get(self.phase, self.phase)


def _types_by_id(session: Session, ids: Iterable[int] | None = None) -> dict[int, JobType]:
    query = select(JobType)
    if ids is not None:
        query = query.where(JobType.id.in_(list(ids)))
    return {t.id: t for t in session.scalars(query)}


def _category(phase: str, error_type: str | None) -> str | None:
    if phase != P.ERROR.value:
        return None
    return "SYSTEM" if error_type == "transient" else "JOB"


def _visible(condition: ColumnElement[bool] | None) -> ColumnElement[bool]:
    """The caller's visibility condition on jobs (``auth.policy.readable``), or no condition."""
    return true() if condition is None else condition


def status(session: Session, started: datetime, ended: datetime, is_active: bool | None,
           visible: ColumnElement[bool] | None = None
           ) -> list[tuple[JobType, list[StatusCount]]]:
    """``/v6/job-types/status/``: job counts by phase per job type version.

    A job counts when its latest time (end, else start, else creation) lies in
    ``[started, ended]``; EXECUTING jobs count whatever their times.
    """
    when = func.coalesce(Job.end_time, Job.start_time, Job.creation_time)
    rows = session.execute(
        select(JobTypeRevision.job_type_id, Job.phase, Job.error_type, func.count(Job.id),
               func.max(when))
        .join(JobTypeRevision, Job.revision_id == JobTypeRevision.id)
        .where(Job.deleted.is_(False), _visible(visible),
               (Job.phase == P.EXECUTING.value) | ((when >= started) & (when <= ended)))
        .group_by(JobTypeRevision.job_type_id, Job.phase, Job.error_type)).all()
    counts: dict[int, dict[tuple[str, str | None], StatusCount]] = {}
    for type_id, phase, error_type, count, latest in rows:
        key = (phase, _category(phase, error_type))
        slot = counts.setdefault(type_id, {})
        if key in slot:
            found = slot[key]
            found.count += count
            if latest is not None and (found.most_recent is None or latest > found.most_recent):
                found.most_recent = latest
        else:
            slot[key] = StatusCount(phase, key[1], count, latest)
    types = sorted(_types_by_id(session).values(),
                   key=lambda t: (t.name, version_key(t.version)))
    return [(t, sorted(counts.get(t.id, {}).values(), key=lambda c: (c.phase, c.category or "")))
            for t in types if is_active is None or t.is_active == is_active]


def pending(session: Session, visible: ColumnElement[bool] | None = None
            ) -> list[tuple[JobType, int, datetime]]:
    """``/v6/job-types/pending/``: QUEUED jobs per type, the longest queued first."""
    queued_at = (select(JobEvent.job_id, func.max(JobEvent.at).label("at"))
                 .where(JobEvent.to_phase == P.QUEUED.value).group_by(JobEvent.job_id)
                 .subquery())
    rows = session.execute(
        select(JobTypeRevision.job_type_id, func.count(Job.id),
               func.min(func.coalesce(queued_at.c.at, Job.creation_time)))
        .join(JobTypeRevision, Job.revision_id == JobTypeRevision.id)
        .outerjoin(queued_at, queued_at.c.job_id == Job.id)
        .where(Job.deleted.is_(False), _visible(visible), Job.phase == P.QUEUED.value)
        .group_by(JobTypeRevision.job_type_id)).all()
    return _with_types(session, rows)


def running(session: Session, visible: ColumnElement[bool] | None = None
            ) -> list[tuple[JobType, int, datetime]]:
    """``/v6/job-types/running/``: EXECUTING jobs per type, the longest running first."""
    rows = session.execute(
        select(JobTypeRevision.job_type_id, func.count(Job.id),
               func.min(func.coalesce(Job.start_time, Job.creation_time)))
        .join(JobTypeRevision, Job.revision_id == JobTypeRevision.id)
        .where(Job.deleted.is_(False), _visible(visible), Job.phase == P.EXECUTING.value)
        .group_by(JobTypeRevision.job_type_id)).all()
    return _with_types(session, rows)


def _with_types(session: Session, rows: Sequence[Any]) -> list[tuple[JobType, int, datetime]]:
    types = _types_by_id(session, [r[0] for r in rows])
    result = [(types[type_id], count, since) for type_id, count, since in rows]
    return sorted(result, key=lambda r: (r[2], r[0].name, r[0].version))


@dataclass
class SystemFailure:
    """Jobs of one type that ended in ERROR for one system reason."""

    job_type: JobType
    message: str
    count: int
    first_error: datetime
    last_error: datetime


def system_failures(session: Session, visible: ColumnElement[bool] | None = None
                    ) -> list[SystemFailure]:
    """``/v6/job-types/system-failures/``: jobs in ERROR for a system reason (after every
    try), per type and message, the most recent first."""
    when = func.coalesce(Job.end_time, Job.creation_time)
    rows = session.execute(
        select(JobTypeRevision.job_type_id, Job.error_message, func.count(Job.id),
               func.min(when), func.max(when))
        .join(JobTypeRevision, Job.revision_id == JobTypeRevision.id)
        .where(Job.deleted.is_(False), _visible(visible), Job.phase == P.ERROR.value,
               Job.error_type == "transient")
        .group_by(JobTypeRevision.job_type_id, Job.error_message)).all()
    types = _types_by_id(session, [r[0] for r in rows])
    failures = [SystemFailure(types[t], m or "unknown system failure", c, first, last)
                for t, m, c, first, last in rows]
    return sorted(failures, key=lambda f: (f.last_error, f.job_type.name), reverse=True)
