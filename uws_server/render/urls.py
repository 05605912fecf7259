"""Absolute URLs of UWS resources, from the absolute URL of a job list."""

from __future__ import annotations

from urllib.parse import quote

from ..models import Job, JobParameter, JobResult


def job_url(list_url: str, job: Job) -> str:
    """The job's URL: ``{jobs}/{job-id}``."""
    return f"{list_url}/{job.id}"


def result_url(list_url: str, job: Job, result: JobResult) -> str:
    """A hosted result: ``{jobs}/{job-id}/results/{result-id}``."""
    return f"{job_url(list_url, job)}/results/{quote(result.result_id, safe='')}"


def parameter_url(list_url: str, job: Job, param: JobParameter) -> str:
    """A by-reference parameter's content: ``{jobs}/{job-id}/parameters/{name}[/{n}]``."""
    base = f"{job_url(list_url, job)}/parameters/{quote(param.name, safe='')}"
    same = [p for p in job.parameters if p.name == param.name]
    if len(same) > 1:
        return f"{base}/{same.index(param)}"
    return base
