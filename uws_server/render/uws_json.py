"""The UWS documents as JSON, mirroring the XML name for name.

One key per schema element or attribute, same spelling (``mime-type`` keeps
its hyphen); ``xsi:nil`` becomes ``null`` and keys the schema requires stay
present; ``runId`` is left out when absent, as in the XML. See docs/json.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..services.views import JobView as Job
from ..timeutil import format_utc
from .urls import job_url, parameter_url, result_url


def _time(value: Any) -> str | None:
    return format_utc(value) or None


def parameters(list_url: str, job: Job) -> list[dict[str, Any]]:
    """``parameters``: a list of ``{id, value, byReference}`` in document order."""
    return [
        {"id": p.name, "value": parameter_url(list_url, job, p) if p.is_file else p.value,
         "byReference": p.is_file}
        for p in job.parameters
    ]


def results(list_url: str, job: Job) -> list[dict[str, Any]]:
    """``results``: a list of ``{id, href, type, size?, mime-type?}``."""
    out = []
    for result in job.results:
        entry: dict[str, Any] = {"id": result.result_id, "href": result_url(list_url, job, result),
                                 "type": "simple"}
        if result.size is not None:
            entry["size"] = result.size
        if result.mime_type:
            entry["mime-type"] = result.mime_type
        out.append(entry)
    return out


def job_document(list_url: str, job: Job) -> dict[str, Any]:
    """The job, as ``<uws:job>`` says it."""
    doc: dict[str, Any] = {"version": "1.1", "jobId": job.id}
    if job.run_id:
        doc["runId"] = job.run_id
    doc.update({
        "ownerId": job.owner_id,
        "phase": job.phase,
        "quote": _time(job.quote),
        "creationTime": _time(job.creation_time),
        "startTime": _time(job.start_time),
        "endTime": _time(job.end_time),
        "executionDuration": job.execution_duration,
        "destruction": _time(job.destruction_time),
        "parameters": parameters(list_url, job),
        "results": results(list_url, job),
        "errorSummary": (
            {"type": job.error_type or "fatal", "hasDetail": bool(job.error_detail),
             "message": job.error_message}
            if job.error_message else None
        ),
        "jobInfo": dict(job.job_info or {}),
    })
    return doc


def job_list_document(list_url: str, jobs: Iterable[Job]) -> dict[str, Any]:
    """The job list: ``{version, jobs: [{id, href, phase, runId?, ownerId, creationTime}]}``."""
    refs = []
    for job in jobs:
        ref: dict[str, Any] = {"id": job.id, "href": job_url(list_url, job), "phase": job.phase}
        if job.run_id:
            ref["runId"] = job.run_id
        ref["ownerId"] = job.owner_id
        ref["creationTime"] = _time(job.creation_time)
        refs.append(ref)
    return {"version": "1.1", "jobs": refs}
