"""Fill a service database with many finished jobs, fast, through the service's own models.

Creating 100,000 jobs over HTTP would take minutes and measure creation again; the bench
instead migrates the database and registers the job types exactly as the service does
(:func:`uws_server.wiring.bootstrap`), then writes the rows with multi-row Core INSERTs on
the models' own tables. The jobs look like echo jobs that ran and COMPLETED: one parameter
each, no result rows, no job directory (nothing reads their files), a destruction time far
in the future so that the dispatcher has nothing to reap while it is measured.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select

from uws_server.config import Settings
from uws_server.models import Job, JobParameter, JobResult, JobType, JobTypeRevision
from uws_server.wiring import bootstrap

BATCH = 5000


def prepare(data_dir: Path, database_url: str) -> None:
    """Migrate the database and register the shipped job types, as the service's start does."""
    bootstrap(Settings(data_dir=data_dir, database_url=database_url))


def _revision_id(connection: Any, name: str) -> int:
    query = (select(JobTypeRevision.id).join(JobType, JobType.id == JobTypeRevision.job_type_id)
             .where(JobType.name == name).order_by(JobTypeRevision.revision_num.desc()).limit(1))
    return int(connection.execute(query).scalar_one())


def _job_row(job_id: str, revision: int, created: datetime, phase: str) -> dict[str, Any]:
    """A finished job's row; keys the table does not have (any more) are left out."""
    row = {
        "id": job_id, "job_type_name": "echo", "revision_id": revision, "owner_id": None,
        "run_id": None, "phase": phase, "creation_time": created,
        "start_time": created + timedelta(milliseconds=200),
        "end_time": created + timedelta(milliseconds=400),
        "destruction_time": created + timedelta(days=365), "quote": None,
        "execution_duration": 3600, "priority": 0, "error_type": None, "error_message": None,
        "error_detail": None, "job_info": {}, "executor": "local", "submit_token": None,
        "backend_id": None, "backend_cursor": None, "cancel_requested": False,
        "duration_exceeded": False, "duration_dirty": False, "release_requested": False,
        "tries": 1, "unknown_since": None, "deleted": False,
    }
    return {key: value for key, value in row.items() if key in Job.__table__.c}


def fill_jobs(database_url: str, total: int) -> dict[str, Any]:
    """Add COMPLETED echo jobs until the echo job list holds ``total``.

    Returns how many there were and were added, how long it took, and one added job's id.

    Their creation times lie in the past, one second apart, so any jobs created over HTTP
    stay the newest.
    """
    engine = create_engine(database_url)
    started = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            revision = _revision_id(connection, "echo")
            present = connection.execute(
                select(func.count()).select_from(Job).where(Job.job_type_name == "echo")
            ).scalar_one()
            missing = max(0, total - present)
            sample = None
            oldest = started - timedelta(seconds=missing + 3600)
            for first in range(0, missing, BATCH):
                jobs, params = [], []
                for index in range(first, min(missing, first + BATCH)):
                    job_id = uuid.uuid4().hex
                    jobs.append(_job_row(job_id, revision, oldest + timedelta(seconds=index),
                                         "COMPLETED"))
                    params.append({"job_id": job_id, "position": 0, "name": "message",
                                   "value": f"bench {index}", "is_file": False,
                                   "source_url": None})
                connection.execute(Job.__table__.insert(), jobs)
                connection.execute(JobParameter.__table__.insert(), params)
                sample = jobs[-1]["id"]
    finally:
        engine.dispose()
    seconds = (datetime.now(UTC) - started).total_seconds()
    return {"jobs_before": present, "jobs_added": missing, "seconds": round(seconds, 1),
            "sample_job": sample}


def big_result_job(data_dir: Path, database_url: str, size: int) -> str:
    """One COMPLETED echo job whose result ``result`` is a ``size``-byte file; its id.

    The file is sparse (``truncate``): reading it costs no disk I/O on a shared machine,
    and the server still reads and sends every byte.
    """
    job_id = uuid.uuid4().hex
    outputs = data_dir / "jobs" / job_id / "outputs"
    outputs.mkdir(parents=True)
    with open(outputs / "big.bin", "wb") as handle:
        handle.truncate(size)
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            revision = _revision_id(connection, "echo")
            connection.execute(Job.__table__.insert(),
                               [_job_row(job_id, revision, datetime.now(UTC), "COMPLETED")])
            connection.execute(JobResult.__table__.insert(), [{
                "job_id": job_id, "position": 0, "result_id": "result",
                "path": "outputs/big.bin", "mime_type": "application/octet-stream",
                "size": size,
            }])
    finally:
        engine.dispose()
    return job_id


def pg_analyze_state(database_url: str) -> dict[str, Any] | None:
    """When PostgreSQL last analysed the jobs table (None on SQLite): plans depend on it."""
    if database_url.startswith("sqlite"):
        return None
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT last_analyze, last_autoanalyze, n_live_tup FROM pg_stat_user_tables "
                "WHERE relname = 'jobs' AND schemaname = current_schema()").one_or_none()
    finally:
        engine.dispose()
    if row is None:
        return None
    return {"last_analyze": row[0] and row[0].isoformat(),
            "last_autoanalyze": row[1] and row[1].isoformat(), "n_live_tup": row[2]}
