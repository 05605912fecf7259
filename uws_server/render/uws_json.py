"""The UWS documents as JSON, mirroring the XML name for name.

One key per schema element or attribute, same spelling (``mime-type`` keeps
its hyphen); ``xsi:nil`` becomes ``null`` and keys the schema requires stay
present; ``runId`` is left out when absent, as in the XML. See docs/json.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from ..services.views import JobRef
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


def _jobref(list_url: str, job: JobRef | Job) -> dict[str, Any]:
    ref: dict[str, Any] = {"id": job.id, "href": job_url(list_url, job), "phase": job.phase}
    if job.run_id:
        ref["runId"] = job.run_id
    ref["ownerId"] = job.owner_id
    ref["creationTime"] = _time(job.creation_time)
    return ref


def job_list_document(list_url: str, jobs: Iterable[JobRef | Job]) -> dict[str, Any]:
    """The job list: ``{version, jobs: [{id, href, phase, runId?, ownerId, creationTime}]}``."""
    return {"version": "1.1", "jobs": [_jobref(list_url, job) for job in jobs]}


def job_list_chunks(list_url: str, jobs: Iterable[JobRef | Job], per_chunk: int = 500
                    ) -> Iterator[bytes]:
    """:func:`job_list_document` as compact UTF-8 JSON, in pieces rendered as ``jobs`` come."""
    def dump(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    pieces = ['{"version":"1.1","jobs":[']
    separator = ""
    for job in jobs:
        pieces.append(separator + dump(_jobref(list_url, job)))
        separator = ","
        if len(pieces) >= per_chunk:
            yield "".join(pieces).encode()
            pieces = []
    pieces.append("]}")
    yield "".join(pieces).encode()


