"""Helpers of the bulk-submission tests: many queued jobs, job types with a core count."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from uws_server.identity import ANONYMOUS
from uws_server.jobtypes import service as jobtypes
from uws_server.models import Job, JobType
from uws_server.wiring import Components

FINAL = ("COMPLETED", "ERROR", "ABORTED")


def queue_echo_jobs(parts: Components, count: int, prefix: str = "m") -> list[str]:
    """``count`` echo jobs queued through the job service, each with its own message."""
    return [parts.jobs.create(ANONYMOUS, "echo", [("message", f"{prefix}{i}"), ("PHASE", "RUN")],
                              {}).id for i in range(count)]


def register_cores_type(parts: Components, directory: Path, name: str, cpus: float) -> None:
    """A ``sleep``-like job type asking for ``cpus`` cores (Seed ``resources.scalar``)."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {"seedVersion": "1.0.0", "job": {
        "name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0", "title": name,
        "description": f"sleeps on {cpus} cores (bulk tests)", "tags": ["test"],
        "maintainer": {"name": "tests", "email": "tests@example.org"}, "timeout": 600,
        "resources": {"scalar": [{"name": "cpus", "value": cpus}]},
        "interface": {"command": "${PYTHON} -m uws_server.programs.sleep ${seconds} "
                                 "${OUTPUT_DIR}/result.txt",
                      "inputs": {"json": [{"name": "seconds", "type": "number",
                                           "required": True}]}},
    }}
    (directory / f"{name}.json").write_text(json.dumps(manifest), encoding="utf-8")
    with parts.db.write() as session:
        jobtypes.load_directory(session, directory)


def set_max_scheduled(parts: Components, type_name: str, cap: int | None) -> None:
    """Cap how many jobs of the type may be active in the backend at once."""
    with parts.db.write() as session:
        job_type = session.scalars(select(JobType).where(JobType.name == type_name)).one()
        job_type.max_scheduled = cap


def phases(parts: Components, job_ids: list[str]) -> dict[str, str]:
    """Each job's phase, read straight from the database."""
    with parts.db.read() as session:
        return dict(session.execute(select(Job.id, Job.phase).where(Job.id.in_(job_ids))).all())


def backend_ids(parts: Components, job_ids: list[str]) -> dict[str, str | None]:
    """Each job's recorded backend id."""
    with parts.db.read() as session:
        return dict(session.execute(
            select(Job.id, Job.backend_id).where(Job.id.in_(job_ids))).all())


def count_submitted(parts: Components) -> int:
    """Jobs with a recorded backend id."""
    with parts.db.read() as session:
        return session.scalar(select(func.count()).select_from(Job).where(
            Job.backend_id.is_not(None))) or 0


def tick_until(tick: Callable[[], None], done: Callable[[], bool], timeout: float,
               step: float = 0.2) -> bool:
    """Tick the dispatcher until ``done()`` or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick()
        if done():
            return True
        time.sleep(step)
    return done()
