"""Read-only views of jobs, loaded with prebuilt Core statements and no ORM bookkeeping.

A job GET is the hottest request (pyvo re-reads the job for every property),
so reads skip the ORM's identity map and unit of work: plain rows become
frozen dataclasses with the same attribute names the renderers use on
:class:`~uws_server.models.Job`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)

from ..models import Job, JobGrant, JobParameter, JobResult


@dataclass(frozen=True, eq=False)
class ParameterView:
    """One parameter value of a job."""

    name: str
    value: str
    is_file: bool
    source_url: str | None


@dataclass(frozen=True, eq=False)
class ResultView:
    """One result of a job."""

    result_id: str
    path: str
    mime_type: str | None
    size: int | None


@dataclass(frozen=True, eq=False)
class JobView:
    """Everything the UWS representations show of a job."""

    id: str
    job_type_name: str
    owner_id: str | None
    run_id: str | None
    phase: str
    creation_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    destruction_time: datetime | None
    quote: datetime | None
    execution_duration: int
    error_type: str | None
    error_message: str | None
    error_detail: str | None
    job_info: dict[str, Any]
    #: The caller's grant bits on the job (``auth.permissions``), when read for a caller.
    granted: int | None = None
    parameters: list[ParameterView] = field(default_factory=list)
    results: list[ResultView] = field(default_factory=list)


_JOB_COLUMNS = (Job.id, Job.job_type_name, Job.owner_id, Job.run_id, Job.phase,
                Job.creation_time, Job.start_time, Job.end_time, Job.destruction_time, Job.quote,
                Job.execution_duration, Job.error_type, Job.error_message, Job.error_detail,
                Job.job_info)

# The caller's grant on the job, read in the same statement as the job (one round trip).
_GRANTED = (select(JobGrant.permission)
            .where(JobGrant.job_id == Job.id, JobGrant.username == bindparam("username"))
            .scalar_subquery().label("granted"))

# Built once: constructing statements costs more than running them on a small table.
# Parameters and results as one kind of row (kind 1 and 2), so that the job, its
# parameters and its results come back from one statement: one round trip per GET.
_PARTS = union_all(
    select(literal(1).label("kind"), JobParameter.position.label("position"),
           JobParameter.name.label("a"), JobParameter.value.label("b"),
           JobParameter.source_url.label("c"), JobParameter.is_file.label("flag"),
           null().cast(BigInteger).label("size"))
    .where(JobParameter.job_id == bindparam("job_id")),
    select(literal(2), JobResult.position, JobResult.result_id, JobResult.path,
           JobResult.mime_type, null().cast(Boolean), JobResult.size)
    .where(JobResult.job_id == bindparam("job_id")),
).subquery("parts")
_JOB_DOCUMENT = (
    select(*_JOB_COLUMNS, _GRANTED, _PARTS.c.kind, _PARTS.c.a, _PARTS.c.b, _PARTS.c.c,
           _PARTS.c.flag, _PARTS.c.size)
    .outerjoin(_PARTS, true())
    .where(Job.id == bindparam("job_id"), Job.job_type_name == bindparam("type_name"),
           Job.deleted.is_(False))
    .order_by(_PARTS.c.kind, _PARTS.c.position))
_VIEW_FIELDS = len(_JOB_COLUMNS) + 1


_PHASE = select(Job.phase, Job.owner_id, _GRANTED).where(
    Job.id == bindparam("job_id"), Job.job_type_name == bindparam("type_name"),
    Job.deleted.is_(False))


def load_phase(connection: Connection, type_name: str, job_id: str, username: str | None
               ) -> Any:
    """``(phase, owner_id, granted)`` of a job, or ``None``: the cheapest read (WAIT, /phase).

    ``granted`` is ``username``'s grant bits on the job (``None`` without a grant).
    """
    return connection.execute(_PHASE, {"job_id": job_id, "type_name": type_name,
                                       "username": username or ""}).one_or_none()


def load_job_view(connection: Connection, type_name: str, job_id: str, username: str | None
                  ) -> JobView | None:
    """The job with its parameters and results, or ``None`` (deleted jobs are invisible).

    The view's ``granted`` holds ``username``'s grant bits on the job.
    """
    rows = connection.execute(_JOB_DOCUMENT, {"job_id": job_id, "type_name": type_name,
                                              "username": username or ""}).all()
    if not rows:
        return None
    view = JobView(*rows[0][:_VIEW_FIELDS])
    for row in rows:
        kind, a, b, c, flag, size = row[_VIEW_FIELDS:]
        if kind == 1:
            view.parameters.append(ParameterView(a, b, bool(flag), c))
        elif kind == 2:
            view.results.append(ResultView(a, b, c, size))
    return view


def job_list_views(rows: Iterable[Any]) -> list[JobView]:
    """Views for job-list entries (no parameters or results needed)."""
    return [JobView(*row) for row in rows]


JOB_LIST_COLUMNS = _JOB_COLUMNS


@dataclass(slots=True)
class JobRef:
    """What a UWS job list shows of a job (``<uws:jobref>``): a sixth of a view's columns,
    and none of the costly ones (four more times, the JSON ``job_info``), so that
    ``LAST=100`` costs little more than one job's document."""

    id: str
    job_type_name: str
    owner_id: str | None
    run_id: str | None
    phase: str
    creation_time: datetime


#: The columns of a :class:`JobRef`, in its order.
JOB_REF_COLUMNS = (Job.id, Job.job_type_name, Job.owner_id, Job.run_id, Job.phase,
                   Job.creation_time)
#: Job-list entries read per statement when a list is streamed.
LIST_CHUNK = 1000
_NEWEST_FIRST = (Job.creation_time.desc(), Job.id.desc())


def stream_job_list(engine: Engine, query: Select[*tuple[Any, ...]], *, last: int | None
                    ) -> Iterator[JobRef]:
    """The entries of ``query`` (columns :data:`JOB_REF_COLUMNS`), newest first, in chunks.

    Each chunk is one short statement that starts after the previous chunk's
    last (creation time, id) -- keyset pagination on the list indexes -- so a
    100,000-job list holds neither a transaction open while a slow client
    reads nor more than :data:`LIST_CHUNK` rows in memory. Jobs created while
    a list is sent are newer than its start and do not appear; none appears
    twice. The first chunk is read before this returns, so a failing database
    fails the request, not the middle of its body.
    """
    def chunk(size: int, after: JobRef | None) -> list[JobRef]:
        page = query
        if after is not None:
            page = page.where(Job.creation_time <= after.creation_time,
                              or_(Job.creation_time < after.creation_time,
                                  and_(Job.creation_time == after.creation_time,
                                       Job.id < after.id)))
        with engine.connect() as connection:
            return [JobRef(*row) for row in connection.execute(page.order_by(*_NEWEST_FIRST)
                                                               .limit(size))]

    def rest(first: list[JobRef], wanted: int | None) -> Iterator[JobRef]:
        views, left = first, wanted
        while True:
            yield from views
            if left is not None:
                left -= len(views)
            if len(views) < LIST_CHUNK or left == 0:
                return
            views = chunk(LIST_CHUNK if left is None else min(LIST_CHUNK, left), views[-1])

    first = chunk(LIST_CHUNK if last is None else min(LIST_CHUNK, last), None)
    return rest(first, last)
