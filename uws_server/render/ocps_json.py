"""The OCPS v1 job object (the Rubin OCPS job manager's JSON), from a job view.

Pure: the same :class:`~uws_server.services.views.JobView` the UWS documents
are made from. Phases are lower case (the OCPS CSC stops polling only on
lower-case ``completed``, ``error``, ``aborted`` or ``unknown``); times are
ISO 8601 UTC with ``Z`` or ``null``; results are the files the job wrote under
``$JOB_OUTPUT_DIR``, in order, each downloadable at ``/api/v1/job/result/{id}/{n}``.
"""

from __future__ import annotations

import json
from typing import Any

from ..services.views import JobView, ResultView
from ..timeutil import format_utc

OUTPUTS_PREFIX = "outputs/"


def _time(value: Any) -> str | None:
    return format_utc(value) or None


def output_results(job: JobView) -> list[ResultView]:
    """The job's results that are files of its output directory (not stdout/stderr)."""
    return [r for r in job.results if r.path.replace("\\", "/").startswith(OUTPUTS_PREFIX)]


def result_uri(api_url: str, job: JobView, index: int) -> str:
    """Where result ``index`` is downloaded: ``{api}/job/result/{id}/{n}``."""
    return f"{api_url}/job/result/{job.id}/{index}"


def results(api_url: str, job: JobView) -> list[dict[str, str]]:
    """``[{"id", "uri"}]``, one per output file."""
    return [{"id": r.result_id, "uri": result_uri(api_url, job, n)}
            for n, r in enumerate(output_results(job))]


def parameters(job: JobView) -> dict[str, Any]:
    """``{"command", "environment"}`` as the client sent them."""
    values = {p.name: p.value for p in job.parameters}
    try:
        environment = json.loads(values.get("environment") or "[]")
    except ValueError:
        environment = []
    return {"command": values.get("command"), "environment": environment}


def phase(value: str) -> str:
    """The OCPS spelling of a UWS phase: lower case."""
    return value.lower()


def job_object(api_url: str, job: JobView) -> dict[str, Any]:
    """The whole job object."""
    return {
        "jobId": job.id,
        "runId": job.run_id,
        "ownerId": job.owner_id,
        "phase": phase(job.phase),
        "creationTime": _time(job.creation_time),
        "startTime": _time(job.start_time),
        "endTime": _time(job.end_time),
        "executionDuration": job.execution_duration,
        "destruction": _time(job.destruction_time),
        "parameters": parameters(job),
        "results": results(api_url, job),
        "errorSummary": {"message": job.error_message or ""},
        "jobInfo": dict(job.job_info or {}),
    }
