"""Job types: registering Seed manifests as versioned, revised job types, and finding them.

A job type is unique by (name, version = the manifest's ``jobVersion``).
Registering a manifest that differs from the current revision of its
(name, version) adds a revision; registering the same manifest again changes
nothing. Jobs record the revision they were created with.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from ..db import mark_changed
from ..errors import InvalidParameter, JobTypeInactive, UnknownJobType
from ..models import JobType, JobTypeRevision
from ..resources import EXAMPLE_MANIFESTS_DIR
from ..timeutil import utcnow
from .seed import (
    JobTypeInterface,
    ManifestError,
    check_manifest,
    normalize_manifest,
    parse_interface,
)

log = logging.getLogger(__name__)

EXAMPLES_DIR = EXAMPLE_MANIFESTS_DIR


@dataclass(frozen=True)
class ResolvedJobType:
    """A job type with the revision new jobs use and its parsed interface."""

    job_type: JobType
    revision: JobTypeRevision
    interface: JobTypeInterface


def version_key(version: str) -> tuple[Any, ...]:
    """Order semantic versions: 1.10.0 > 1.9.0, and 1.0.0 > 1.0.0-rc.1."""
    core, _, pre = version.partition("+")[0].partition("-")
    numbers = tuple(int(p) if p.isdigit() else 0 for p in core.split("."))
    if not pre:
        return (numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (numbers, 0, parts)


@lru_cache(maxsize=512)
def _interface_cached(revision_id: int, manifest_json: str) -> JobTypeInterface:
    return parse_interface(json.loads(manifest_json))


def interface_of(revision: JobTypeRevision) -> JobTypeInterface:
    """The parsed interface of a revision (cached: revisions never change)."""
    return _interface_cached(revision.id, json.dumps(revision.manifest, sort_keys=True))


def register_manifest(
    session: Session, manifest: dict[str, Any], *, docker_image: str = "",
    configuration: dict[str, Any] | None = None, is_system: bool = False,
    created_by: str | None = None,
) -> tuple[JobType, JobTypeRevision, bool]:
    """Add a job type, or a revision of one, from a manifest.

    ``created_by`` is who asked (recorded on a new revision; ``None`` for start-up loads).

    Returns
    -------
    tuple
        The job type, its current revision, and whether anything was created.

    Raises
    ------
    ManifestError
        If the manifest fails the Seed schema or the extra checks.

    Notes
    -----
    The manifest is first normalised (:func:`~uws_server.jobtypes.seed.normalize_manifest`):
    what is stored is the normalised form.
    """
    manifest, _filled = normalize_manifest(manifest)  # e.g. errors[].name, as Scale omits it
    errors, _warnings = check_manifest(manifest)
    if errors:
        raise ManifestError(errors)
    interface = parse_interface(manifest)
    now = utcnow()
    job_type = session.scalars(
        select(JobType).where(JobType.name == interface.name, JobType.version == interface.version)
    ).one_or_none()
    if job_type is None:
        job_type = JobType(
            name=interface.name, version=interface.version, title=interface.title,
            description=interface.description, docker_image=docker_image,
            configuration=configuration or {}, is_system=is_system, revision_num=1,
            created=now, last_modified=now, is_active=True, is_paused=False,
            is_published=False, max_tries=3,
        )
        session.add(job_type)
        session.flush()
        revision = JobTypeRevision(job_type_id=job_type.id, revision_num=1, manifest=manifest,
                                   docker_image=docker_image, created=now,
                                   created_by=created_by)
        session.add(revision)
        session.flush()
        return job_type, revision, True
    current = current_revision(session, job_type)
    if current.manifest == manifest and current.docker_image == docker_image:
        return job_type, current, False
    job_type.revision_num = current.revision_num + 1
    job_type.title, job_type.description = interface.title, interface.description
    job_type.docker_image = docker_image
    job_type.last_modified = now
    revision = JobTypeRevision(job_type_id=job_type.id, revision_num=job_type.revision_num,
                               manifest=manifest, docker_image=docker_image, created=now,
                               created_by=created_by)
    session.add(revision)
    session.flush()
    return job_type, revision, True


def current_revision(session: Session, job_type: JobType) -> JobTypeRevision:
    """The revision new jobs of this type use."""
    return session.scalars(
        select(JobTypeRevision).where(
            JobTypeRevision.job_type_id == job_type.id,
            JobTypeRevision.revision_num == job_type.revision_num,
        )
    ).one()


def load_directory(session: Session, directory: Path) -> list[str]:
    """Register every ``*.json`` manifest in a directory; return what changed.

    A bad manifest is logged with its problems and skipped, so one typo does
    not keep the service from starting.
    """
    changed = []
    for path in sorted(directory.glob("*.json")):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            job_type, revision, created = register_manifest(session, manifest, is_system=False)
        except (OSError, ValueError) as exc:
            log.error("skipping job type manifest %s: %s", path, exc)
            continue
        if created:
            changed.append(f"{job_type.name} {job_type.version} r{revision.revision_num}")
    return changed


def list_names(session: Session) -> list[str]:
    """The names of all job types that accept jobs, sorted."""
    names = session.scalars(select(JobType.name).where(JobType.is_active).distinct())
    return sorted(set(names))


#: The light columns that decide which job type a name resolves to, and whether a cached
#: resolution is still current (any registry change bumps ``last_modified``).
_CANDIDATES = select(JobType.id, JobType.version, JobType.is_active, JobType.revision_num,
                     JobType.last_modified).where(JobType.name == bindparam("name"))
_RESOLVED: dict[tuple[Any, ...], ResolvedJobType] = {}
_RESOLVED_MAX = 512

#: What a job type's name may be (anything else names none).
_NAME = re.compile(r"[A-Za-z0-9-]{1,255}")
#: The wake-up id a committed registry change publishes to every process of the service
#: (:func:`forget_on_wake`), after which names are looked up again.
REGISTRY_CHANGED = "@jobtypes"
#: Seconds a name's looked-up versions are trusted: the bound on staleness should the
#: wake-up of another process's change be lost (a datagram is not guaranteed).
CANDIDATES_SECONDS = 2.0
_CANDIDATE_ROWS: dict[tuple[str, str], tuple[float, list[Any]]] = {}
_CHANGED_KEY = "uws_registry_changed"


def forget_candidates() -> None:
    """Look every name up again on its next use (the registry changed)."""
    _CANDIDATE_ROWS.clear()


def forget_on_wake(ids: set[str]) -> None:
    """A :class:`~uws_server.notify.WakeBus` listener: forget on a registry change."""
    if REGISTRY_CHANGED in ids:
        forget_candidates()


@event.listens_for(Session, "after_flush")
def _note_registry_change(session: Session, _context: Any) -> None:
    """A flush that writes job types or revisions: forget and wake the others on commit."""
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(item, JobType | JobTypeRevision) for item in touched):
        session.info[_CHANGED_KEY] = True
        mark_changed(session, REGISTRY_CHANGED)


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED_KEY, False):
        forget_candidates()


@event.listens_for(Session, "after_rollback")
def _drop_the_note(session: Session) -> None:
    session.info.pop(_CHANGED_KEY, None)


def _candidates(session: Session, name: str) -> list[Any]:
    """The versions of ``name`` (id, version, active, revision, last change), from memory
    when looked up less than :data:`CANDIDATES_SECONDS` ago and nothing changed since."""
    key = (str(session.get_bind().engine.url), name)
    now = time.monotonic()
    found = _CANDIDATE_ROWS.get(key)
    if found is not None and now - found[0] < CANDIDATES_SECONDS:
        return found[1]
    rows = list(session.execute(_CANDIDATES, {"name": name}).all())
    if len(_CANDIDATE_ROWS) >= _RESOLVED_MAX:
        _CANDIDATE_ROWS.clear()
    _CANDIDATE_ROWS[key] = (now, rows)
    return rows


def resolve(session: Session, name: str, version: str | None = None) -> ResolvedJobType:
    """The job type new jobs of ``name`` use: ``version``, or the latest active one.

    No query at all on the hot path: a name's versions are kept in memory
    (:func:`_candidates`) until the registry changes, which every process hears of
    (:data:`REGISTRY_CHANGED`), or for :data:`CANDIDATES_SECONDS` at most; the full job
    type, revision and parsed interface are cached per (database, job type,
    revision, last change).

    Raises
    ------
    UnknownJobType
        No such name, or no such version of it.
    JobTypeInactive
        The named version exists but accepts no new jobs.
    """
    if not _NAME.fullmatch(name):
        raise UnknownJobType(f"no job type named {name!r}")
    candidates = _candidates(session, name)
    if not candidates:
        raise UnknownJobType(f"no job type named {name!r}")
    if version is not None:
        chosen = next((c for c in candidates if c.version == version), None)
        if chosen is None:
            raise InvalidParameter(f"VERSION: job type {name!r} has no version {version!r}")
        if not chosen.is_active:
            raise JobTypeInactive(f"job type {name} {version} is not active: it takes no new jobs")
    else:
        active = [c for c in candidates if c.is_active]
        if not active:
            raise JobTypeInactive(f"job type {name!r} is not active: it takes no new jobs")
        chosen = max(active, key=lambda c: version_key(c.version))
    key = (str(session.get_bind().engine.url), chosen.id, chosen.revision_num, chosen.last_modified)
    cached = _RESOLVED.get(key)
    if cached is not None:
        return cached
    job_type = session.get(JobType, chosen.id)
    if job_type is None:  # deleted between the two queries
        raise UnknownJobType(f"no job type named {name!r}")
    revision = current_revision(session, job_type)
    try:
        interface = interface_of(revision)
    except (KeyError, TypeError, ValueError) as exc:  # a stored manifest we cannot read
        raise ManifestError([]) from exc
    resolved = ResolvedJobType(job_type, revision, interface)
    if len(_RESOLVED) >= _RESOLVED_MAX:
        _RESOLVED.clear()
    _RESOLVED[key] = resolved
    return resolved


def job_type_exists(session: Session, name: str) -> bool:
    """Whether any version of a job type of that name exists (active or not): from the
    looked-up versions kept in memory (:func:`_candidates`), like :func:`resolve`."""
    return bool(_NAME.fullmatch(name)) and bool(_candidates(session, name))
