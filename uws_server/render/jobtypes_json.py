"""JSON documents of the job-type registry (Scale v6 shapes).

Secret settings are masked here, the one place configurations are rendered:
the value of every setting the manifest marks ``secret`` becomes
:data:`~uws_server.jobtypes.seed.SECRET_MASK`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from ..jobtypes.queries import NameSummary, StatusCount, SystemFailure
from ..jobtypes.seed import SECRET_MASK
from ..models import JobType, JobTypeRevision
from ..timeutil import format_utc


def when(value: datetime | None) -> str | None:
    """ISO 8601 UTC with ``Z``, or ``None``."""
    return format_utc(value) if value is not None else None


def secret_names(manifest: dict[str, Any] | None) -> set[str]:
    """The settings a manifest marks secret."""
    interface = ((manifest or {}).get("job") or {}).get("interface") or {}
    return {s["name"] for s in interface.get("settings") or []
            if isinstance(s, dict) and s.get("secret") and isinstance(s.get("name"), str)}


def masked(configuration: dict[str, Any] | None, manifest: dict[str, Any] | None
           ) -> dict[str, Any]:
    """A configuration with the values of secret settings replaced by the mask."""
    configuration = dict(configuration or {})
    settings = configuration.get("settings")
    if isinstance(settings, dict):
        secret = secret_names(manifest)
        configuration["settings"] = {k: (SECRET_MASK if k in secret and v is not None else v)
                                     for k, v in settings.items()}
    return configuration


def brief(job_type: JobType) -> dict[str, Any]:
    """The short form embedded in revisions and statistics."""
    return {"id": job_type.id, "name": job_type.name, "version": job_type.version,
            "title": job_type.title, "description": job_type.description,
            "is_active": job_type.is_active, "is_paused": job_type.is_paused,
            "is_published": job_type.is_published, "icon_code": job_type.icon_code,
            "unmet_resources": job_type.unmet_resources}


def summary(job_type: JobType) -> dict[str, Any]:
    """One version in ``/v6/job-types/`` and ``/v6/job-types/{name}/``."""
    return {
        "id": job_type.id, "name": job_type.name, "version": job_type.version,
        "title": job_type.title, "description": job_type.description,
        "icon_code": job_type.icon_code, "is_published": job_type.is_published,
        "is_active": job_type.is_active, "is_paused": job_type.is_paused,
        "is_system": job_type.is_system, "max_scheduled": job_type.max_scheduled,
        "max_tries": job_type.max_tries, "revision_num": job_type.revision_num,
        "docker_image": job_type.docker_image, "unmet_resources": job_type.unmet_resources,
        "created": when(job_type.created), "deprecated": when(job_type.deprecated),
        "paused": when(job_type.paused), "last_modified": when(job_type.last_modified),
    }


def details(job_type: JobType, revision: JobTypeRevision) -> dict[str, Any]:
    """``/v6/job-types/{name}/{version}/``: the summary with manifest and configuration."""
    doc = summary(job_type)
    doc["manifest"] = revision.manifest
    doc["configuration"] = masked(job_type.configuration, revision.manifest)
    doc["recipe_types"] = []
    return doc


def name_summary(item: NameSummary) -> dict[str, Any]:
    """One name in ``/v6/job-type-names/``."""
    latest = item.latest
    return {"name": latest.name, "title": latest.title, "description": latest.description,
            "icon_code": latest.icon_code, "is_published": latest.is_published,
            "versions": item.versions, "num_versions": len(item.versions),
            "latest_version": latest.version}


def revision_doc(job_type: JobType, revision: JobTypeRevision, versions: Sequence[str], *,
                 full: bool) -> dict[str, Any]:
    """One revision; ``full`` adds its manifest. ``versions`` are the name's versions, oldest
    first (for 001's ``num_versions`` and ``latest_version``)."""
    kind = {**brief(job_type), "num_versions": len(versions),
            "latest_version": versions[-1] if versions else job_type.version}
    doc = {"id": revision.id, "job_type": kind, "revision_num": revision.revision_num,
           "docker_image": revision.docker_image, "created": when(revision.created),
           "created_by": revision.created_by}
    if full:
        doc["manifest"] = revision.manifest
    return doc


def status_doc(job_type: JobType, counts: Sequence[StatusCount]) -> dict[str, Any]:
    """One job type's counts by status."""
    return {"job_type": brief(job_type), "job_counts": [
        {"status": c.status, "phase": c.phase, "count": c.count,
         "most_recent": when(c.most_recent), "category": c.category} for c in counts]}


def count_doc(key: str) -> Callable[[tuple[JobType, int, datetime]], dict[str, Any]]:
    """A renderer of ``(job type, count, since)`` rows with ``since`` called ``key``."""
    def render(row: tuple[JobType, int, datetime]) -> dict[str, Any]:
        job_type, count, since = row
        return {"job_type": brief(job_type), "count": count, key: when(since)}

    return render


def failure_doc(item: SystemFailure) -> dict[str, Any]:
    """One group of system failures; the error is described by its message."""
    return {"job_type": brief(item.job_type), "error": {
        "id": None, "name": "system-failure", "title": "System failure",
        "description": item.message, "category": "SYSTEM", "is_builtin": True,
        "should_be_retried": True, "created": when(item.first_error),
        "last_modified": when(item.last_error)},
        "count": item.count, "first_error": when(item.first_error),
        "last_error": when(item.last_error)}


def page(items: Sequence[Any], render: Callable[[Any], dict[str, Any]], *, number: int,
         size: int, url: str, args: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The ``{count, next, previous, results}`` envelope of one page of ``items``."""
    start = (number - 1) * size
    chunk = items[start:start + size]

    def link(target: int) -> str:
        kept = [(k, v) for k, v in args if k.lower() != "page"] + [("page", str(target))]
        return f"{url}?{urlencode(kept)}"

    return {"count": len(items),
            "next": link(number + 1) if start + size < len(items) else None,
            "previous": link(number - 1) if number > 1 and start - size < len(items) else None,
            "results": [render(i) for i in chunk]}
