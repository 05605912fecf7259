"""A job's rows and files as they are written: parameters, uploads, limits, the INSERTs.

What :class:`~uws_server.services.jobs.JobService` needs to turn checked values into
stored ones, kept apart from its transactions: the input files written under the job's
directory with their parameter rows (:func:`parameter_rows`), the clamped execution
duration and destruction time (:func:`execution_duration`, :func:`destruction_time`),
the new job written with two Core INSERTs (:func:`insert_new_job`), and the files of a
parameter change, removed or kept when it ends (:class:`FileChanges`).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, TextClause, insert, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from ..config import Settings
from ..errors import InvalidParameter, PayloadTooLarge
from ..jobtypes.seed import JobTypeInterface
from ..models import Job, JobParameter
from ..storage import JobStorage
from ..timeutil import parse_utc
from .params import ParamValue

#: Checked parameter values by name, and their rows as written.
ParamValues = dict[str, list[ParamValue]]
ParameterRows = list[dict[str, Any]]


def parameter_rows(storage: JobStorage, settings: Settings, job_id: str, values: ParamValues,
                   position: int, written: list[str] | None = None) -> ParameterRows:
    """Write uploaded files and return the parameter rows (numbered from ``position``).

    Each uploaded file gets a path no file has yet (a replaced upload's file stays until
    the change commits) and is added to ``written`` once on disk.

    Raises
    ------
    PayloadTooLarge
        An upload over ``UWS_MAX_UPLOAD_BYTES`` (its file is in ``written``).
    """
    rows: ParameterRows = []
    for name, entries in values.items():
        for index, entry in enumerate(entries):
            value, source = entry.value, entry.url
            if entry.upload is not None:
                number = index
                value = storage.input_path(job_id, name, number, entry.upload.filename)
                target = storage.resolve(job_id, value)
                while os.path.lexists(target):
                    number += 1
                    value = storage.input_path(job_id, name, number, entry.upload.filename)
                    target = storage.resolve(job_id, value)
                target.parent.mkdir(parents=True, exist_ok=True)
                if written is not None:
                    written.append(value)
                entry.upload.save(str(target))
                if os.path.getsize(target) > settings.max_upload_bytes:
                    raise PayloadTooLarge(
                        f"{name}: upload larger than {settings.max_upload_bytes} bytes")
            elif entry.url is not None:
                value = storage.input_path(job_id, name, index, entry.url.rsplit("/", 1)[-1])
            rows.append({"job_id": job_id, "position": position, "name": name,
                         "value": value, "is_file": entry.is_file, "source_url": source})
            position += 1
    return rows


def upload_bytes(storage: JobStorage, job_id: str,
                 parameters: Sequence[Mapping[str, Any]]) -> int:
    """Bytes of the job's uploaded files (not of inputs fetched by URL), for quotas."""
    total = 0
    for param in parameters:
        if param["is_file"] and param["source_url"] is None:
            try:
                total += os.path.getsize(storage.resolve(job_id, param["value"]))
            except (OSError, ValueError):
                continue
    return total


def execution_duration(settings: Settings, text: str | None,
                       interface: JobTypeInterface | None) -> int:
    """The execution duration to set for a requested value (clamped, UWS §2.1.4)."""
    limit = settings.max_duration
    if interface is not None and interface.timeout:
        limit = min(limit, interface.timeout) if limit else interface.timeout
    if text is None:
        seconds = settings.default_duration
    else:
        try:
            value = float(text.strip())
        except ValueError:
            raise InvalidParameter(
                f"EXECUTIONDURATION: expected a whole number of seconds, got {text!r}"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise InvalidParameter(
                f"EXECUTIONDURATION: must be 0 (unlimited) or a positive number, got {text!r}")
        seconds = round(value)
    if seconds == 0:
        return limit  # unlimited, within what the service allows (0 if no limit)
    return min(seconds, limit) if limit else seconds


def destruction_time(settings: Settings, text: str, created: datetime) -> datetime:
    """The destruction instant asked for, no later than the longest lifetime allowed."""
    try:
        value = parse_utc(text)
    except ValueError as exc:
        raise InvalidParameter(f"DESTRUCTION: {exc}") from None
    return min(value, created + timedelta(seconds=settings.max_lifetime))


def insert_new_job(session: Session, job: Job, parameters: Sequence[Mapping[str, Any]]) -> None:
    """Write a new job and its parameters with two Core INSERTs (one multi-row), then let
    the session know the job as persistent.

    The ORM's unit of work cost a third of a creation's time; what follows in the creating
    transaction (subscriptions, a front door's links, the PHASE=RUN transition) works on
    ``job`` as on any loaded job. Its ``parameters`` are read from the database if asked.
    """
    state = job.__dict__
    row = {attr.columns[0].key: state[attr.key] for attr in _JOB_COLUMNS if attr.key in state}
    session.execute(insert(_JOBS), [row])
    for start in range(0, len(parameters), ROWS_PER_INSERT):
        chunk = parameters[start:start + ROWS_PER_INSERT]
        session.execute(_parameters_insert(len(chunk)),
                        {f"{key}_{n}": value for n, row in enumerate(chunk)
                         for key, value in row.items()})
    make_transient_to_detached(job)
    session.add(job)


#: Parameter rows per multi-row INSERT (one statement for any ordinary job).
ROWS_PER_INSERT = 64
_PARAMETER_KEYS = ("job_id", "position", "name", "value", "is_file", "source_url")
_JOB_COLUMNS = tuple(sa_inspect(Job).column_attrs)
_JOBS = cast(Table, Job.__table__)
_PARAMETERS = cast(Table, JobParameter.__table__)


@functools.lru_cache(maxsize=ROWS_PER_INSERT)
def _parameters_insert(rows: int) -> TextClause:
    """``INSERT INTO job_parameters ... VALUES (...), (...)`` for ``rows`` rows, with named
    parameters ``<column>_<n>``. Written as text, once per row count: SQLAlchemy does not
    cache the compiled form of a multi-row ``insert().values([...])``, and compiling it
    cost a sixth of a creation."""
    columns = ", ".join(_PARAMETER_KEYS)
    values = ", ".join("(" + ", ".join(f":{key}_{n}" for key in _PARAMETER_KEYS) + ")"
                       for n in range(rows))
    return text(f"INSERT INTO {_PARAMETERS.name} ({columns}) VALUES {values}")


class FileChanges:
    """Input files a parameter change wrote (to remove if it fails) and replaced (to remove
    once it is committed)."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.stale: list[str] = []

    def undo(self, storage: JobStorage, job_id: str) -> None:
        """The change was rolled back: its new files are nobody's."""
        for relative in self.written:
            storage.resolve(job_id, relative).unlink(missing_ok=True)

    def commit(self, storage: JobStorage, job_id: str) -> None:
        """The change is committed: the replaced files are nobody's."""
        for relative in self.stale:
            storage.resolve(job_id, relative).unlink(missing_ok=True)
