"""The Agave jobs API's documents (``/jobs/v2``): pure functions of the job model.

Field names are those of agavepy's ``api_jobs.json`` models (Job, JobSummary,
JobHistory, Permission, RemoteFile); times are ISO 8601 UTC, absent ones
``null``. ``api`` is the absolute URL of ``/jobs/v2`` and ``uws`` of ``/uws``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..auth.permissions import GRANT_NAMES, Permission
from ..services.agave.outputs import OutputEntry
from ..services.agave.statuses import format_max_run_time, status_of
from ..services.views import JobView
from ..timeutil import format_utc

#: The API version in every envelope: an Agave 2.2 before "Aloe", whose models agavepy uses.
API_VERSION = "2.2.22"


def envelope(result: Any, message: str | None = None, status: str = "success"
             ) -> dict[str, Any]:
    """Agave's answer: ``{"status", "message", "version", "result"}``."""
    return {"status": status, "message": message, "version": API_VERSION, "result": result}


def _time(value: datetime | None) -> str | None:
    return format_utc(value) or None


def app_id(type_name: str, version: str) -> str:
    """The Agave application id of a job type: ``name-version``."""
    return f"{type_name}-{version}"


def job_links(api: str, uws: str, job_id: str, type_name: str, owner: str | None,
              resubmitted_from: str | None = None,
              resubmissions: Sequence[str] = ()) -> dict[str, Any]:
    """``_links``: the job's own resources, its UWS job, and its resubmission links."""
    base = f"{api}/{job_id}"
    links: dict[str, Any] = {
        "self": {"href": base},
        "history": {"href": f"{base}/history"},
        "permissions": {"href": f"{base}/pems"},
        "outputs": {"href": f"{base}/outputs/listings"},
        "status": {"href": f"{base}/status"},
        "uws": {"href": f"{uws}/{quote(type_name, safe='')}/{job_id}"},
    }
    if owner:
        links["owner"] = {"href": None, "name": owner}
    if resubmitted_from:
        links["resubmittedFrom"] = {"href": f"{api}/{resubmitted_from}"}
    if resubmissions:
        links["resubmissions"] = [{"href": f"{api}/{other}"} for other in resubmissions]
    return links


def _params(job: JobView, files: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for param in job.parameters:
        if param.is_file != files:
            continue
        value = (param.source_url or param.value) if files else param.value
        if param.name in found:
            previous = found[param.name]
            found[param.name] = [*(previous if isinstance(previous, list) else [previous]),
                                 value]
        else:
            found[param.name] = value
    return found


def job_document(api: str, uws: str, job: JobView, *, version: str, executor: str | None,
                 submit_time: datetime | None, retries: int, resubmitted_from: str | None,
                 resubmissions: Sequence[str]) -> dict[str, Any]:
    """The Job model."""
    return {
        "id": job.id,
        "name": job.run_id,
        "owner": job.owner_id,
        "appId": app_id(job.job_type_name, version),
        "executionSystem": executor,
        "status": status_of(job.phase),
        "message": job.error_message,
        "created": _time(job.creation_time),
        "submitTime": _time(submit_time),
        "startTime": _time(job.start_time),
        "endTime": _time(job.end_time),
        "parameters": _params(job, files=False),
        "inputs": _params(job, files=True),
        "maxRunTime": format_max_run_time(job.execution_duration),
        "archive": False,
        "retries": retries,
        "nodeCount": 1,
        "processorsPerNode": 1,
        "notifications": [],
        "resubmittedFrom": resubmitted_from,
        "_links": job_links(api, uws, job.id, job.job_type_name, job.owner_id,
                            resubmitted_from, resubmissions),
    }


def summary(api: str, uws: str, row: Any) -> dict[str, Any]:
    """The JobSummary model, from a list row (``jobs`` columns and the type's version)."""
    return {
        "id": row.id,
        "name": row.run_id,
        "owner": row.owner_id,
        "appId": app_id(row.job_type_name, row.version),
        "executionSystem": row.executor,
        "status": status_of(row.phase),
        "created": _time(row.creation_time),
        "startTime": _time(row.start_time),
        "endTime": _time(row.end_time),
        "_links": job_links(api, uws, row.id, row.job_type_name, row.owner_id),
    }


def history_entry(event: Any) -> dict[str, Any]:
    """One JobHistory entry from a ``job_events`` row (or the synthetic creation entry)."""
    return {
        "created": _time(event.at),
        "createdBy": event.actor,
        "status": status_of(event.to_phase),
        "kind": event.kind,
        "description": describe(event),
    }


def describe(event: Any) -> str:
    """What an event says, in one line."""
    note = f": {event.note}" if event.note else ""
    if event.kind == "phase":
        if event.from_phase is None:
            return f"Job created{note}"
        return (f"Job status changed from {status_of(event.from_phase)} to "
                f"{status_of(event.to_phase)}{note}")
    if event.kind == "grant":
        return f"Permission changed{note}"
    if event.kind == "parameters":
        return f"Parameters changed{note}"
    return f"{event.kind.capitalize()}{note}"


def permission(api: str, job_id: str, username: str, name: str) -> dict[str, Any]:
    """The Permission model: ``{"username", "permission": {"read", "write", "execute"}}``."""
    bits = GRANT_NAMES[name]
    return {
        "username": username,
        "permission": {"read": bool(bits & Permission.READ),
                       "write": bool(bits & Permission.WRITE),
                       "execute": bool(bits & Permission.EXECUTE)},
        "_links": {"self": {"href": f"{api}/{job_id}/pems/{quote(username, safe='')}"},
                   "parent": {"href": f"{api}/{job_id}"}},
    }


def output_file(api: str, job_id: str, entry: OutputEntry) -> dict[str, Any]:
    """The RemoteFile model of one output entry."""
    path = quote(entry.path)
    return {
        "name": entry.name,
        "path": entry.path,
        "length": entry.length,
        "lastModified": _time(entry.last_modified),
        "type": "dir" if entry.is_dir else "file",
        "format": "folder" if entry.is_dir else "raw",
        "mimeType": entry.mime_type,
        "system": None,
        "permissions": "READ",
        "_links": {
            "self": {"href": f"{api}/{job_id}/outputs/media/{path}"},
            "listing": {"href": f"{api}/{job_id}/outputs/listings/{path}"},
            "parent": {"href": f"{api}/{job_id}"},
        },
    }
