"""Absolute URLs of UWS resources, from the absolute URL of a job list."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def job_url(list_url: str, job: Any) -> str:
    """The job's URL: ``{jobs}/{job-id}``."""
    return f"{list_url}/{job.id}"


def result_url(list_url: str, job: Any, result: Any) -> str:
    """A hosted result: ``{jobs}/{job-id}/results/{result-id}``."""
    return f"{job_url(list_url, job)}/results/{quote(result.result_id, safe='')}"


def parameter_url(list_url: str, job: Any, param: Any) -> str:
    """A by-reference parameter's content: ``{jobs}/{job-id}/parameters/{name}[/{n}]``.

    ``job`` and ``param`` are a job (model or view) and one of its parameters.
    """
    base = f"{job_url(list_url, job)}/parameters/{quote(param.name, safe='')}"
    same = [p for p in job.parameters if p.name == param.name]
    if len(same) > 1:
        return f"{base}/{next(i for i, p in enumerate(same) if p is param)}"
    return base
