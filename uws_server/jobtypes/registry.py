"""The job-type registry (Scale's v6 API) as a service: :class:`RegistryService`.

Like :class:`~uws_server.services.jobs.JobService`, every method owns its
transaction, so the HTTP handlers only parse, call and render. Reads are in
:mod:`.queries`; writes (validate, register with POST, edit with PATCH) here.

Every write is an operator action: the caller must be an admin. A request is
checked as a whole first (manifest against Seed 1.0.0 and the extra checks,
configuration against the manifest, every other field by type); nothing is
written unless it has no errors. Secret setting values never appear in a
message: problems name fields and setting *names* only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .. import safejson
from ..auth.policy import readable
from ..db import Database
from ..errors import PermissionDenied, UWSError
from ..identity import Identity
from ..models import JobParameter, JobResult, JobType, JobTypeRevision
from ..timeutil import utcnow
from . import queries
from . import service as jobtypes
from .config import check_configuration
from .queries import Filters, NameSummary, StatusCount, SystemFailure, find_version, get_version
from .seed import SECRET_MASK, Problem, check_manifest, normalize_manifest

log = logging.getLogger(__name__)

#: Path segments of ``/v6/job-types/{segment}/`` the API itself uses: no job type may be
#: called so, or its versions could not be listed.
RESERVED_TYPE_NAMES = frozenset({"status", "pending", "running", "system-failures", "validation"})
#: Paths of ``/uws/{name}`` the UWS door's VOSI resources answer (``api/vosi.py``): a job type
#: so named would have a job list nobody could reach.
RESERVED_UWS_NAMES = frozenset({"capabilities", "availability"})

_BOOL_FIELDS = ("is_published", "is_active", "is_paused", "auto_update")
_POST_FIELDS = frozenset({"manifest", "docker_image", "icon_code", "max_scheduled", "max_tries",
                          "configuration", "is_published", "is_active", "is_paused",
                          "auto_update"})
_PATCH_FIELDS = _POST_FIELDS - {"auto_update"}


@dataclass
class Validation:
    """The outcome of checking a registry request: errors make it invalid, warnings do not."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        """Whether the request can be carried out."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """The ``{is_valid, errors, warnings}`` document of the API."""
        return {"is_valid": self.is_valid, "errors": [p.as_dict() for p in self.errors],
                "warnings": [p.as_dict() for p in self.warnings]}


class InvalidJobType(UWSError):
    """A registry request with errors (400); carries the full validation."""

    status = 400

    def __init__(self, validation: Validation) -> None:
        first = "; ".join(f"{p.name}: {p.description}" for p in validation.errors[:5])
        more = len(validation.errors) - 5
        super().__init__(f"invalid job type: {first}" + (f" (and {more} more)" if more > 0
                                                          else ""))
        self.validation = validation


@dataclass
class Request:
    """A parsed POST/PATCH/validation body: the manifest (normalised) and the other fields."""

    manifest: dict[str, Any] | None
    fields: dict[str, Any]
    validation: Validation


def require_admin(identity: Identity) -> None:
    """Refuse callers who may not operate the registry (403)."""
    if not identity.is_admin:
        raise PermissionDenied("changing the job-type registry needs the admin role")


def _check_fields(body: dict[str, Any], allowed: frozenset[str], out: Validation) -> None:
    for key in sorted(set(body) - allowed):
        out.errors.append(Problem(key, "unknown field (allowed: " + ", ".join(sorted(allowed))
                                  + ")"))
    for key in _BOOL_FIELDS:
        if key in body and not isinstance(body[key], bool):
            out.errors.append(Problem(key, "must be true or false"))
    if "docker_image" in body:
        image, size = body["docker_image"], _size(JobType.docker_image)
        if not isinstance(image, str) or not image.strip() or len(image) > size \
                or "\x00" in image:
            out.errors.append(Problem("docker_image", f"must be a non-empty string of at most "
                                                      f"{size} characters, without NUL"))
    if "icon_code" in body:
        icon = body["icon_code"]
        if icon is not None and (not isinstance(icon, str) or len(icon) > 20):
            out.errors.append(Problem("icon_code", "must be a string of at most 20 characters "
                                                   "or null"))
    if "max_scheduled" in body:
        cap = body["max_scheduled"]
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int)
                                or not 1 <= cap <= 1_000_000):
            out.errors.append(Problem("max_scheduled", "must be a positive integer or null "
                                                       "(no limit)"))
    if "max_tries" in body:
        tries = body["max_tries"]
        if isinstance(tries, bool) or not isinstance(tries, int) or not 1 <= tries <= 100:
            out.errors.append(Problem("max_tries", "must be an integer from 1 to 100"))


def _size(column: Any) -> int:
    """The length of a ``String(n)`` model column: one limit for SQLite (which would store
    longer text) and PostgreSQL (which refuses it with a 500)."""
    length: int = column.property.columns[0].type.length
    return length


def _check_sizes(manifest: dict[str, Any]) -> list[Problem]:
    """Manifest strings that end up in sized columns, against those columns' lengths.

    Output names leave room for the ``-N`` suffix of a result's further files.
    """
    def part(parent: dict[str, Any], key: str) -> dict[str, Any]:
        value = parent.get(key)
        return value if isinstance(value, dict) else {}

    job = part(manifest, "job")
    interface = part(job, "interface")
    inputs, outputs = part(interface, "inputs"), part(interface, "outputs")
    checks: list[tuple[str, Any, int]] = [
        ("job.name", job.get("name"), _size(JobType.name)),
        ("job.jobVersion", job.get("jobVersion"), _size(JobType.version)),
        ("job.title", job.get("title"), _size(JobType.title)),
    ]
    for kind in ("files", "json"):
        for index, item in enumerate(inputs.get(kind) or []):
            if isinstance(item, dict):
                checks.append((f"job.interface.inputs.{kind}[{index}].name", item.get("name"),
                               _size(JobParameter.name)))
    for index, item in enumerate(outputs.get("files") or []):
        if isinstance(item, dict):
            where = f"job.interface.outputs.files[{index}]"
            checks.append((f"{where}.name", item.get("name"), _size(JobResult.result_id) - 12))
            checks.append((f"{where}.mediaType", item.get("mediaType"),
                           _size(JobResult.mime_type)))
    return [Problem(where, f"longer than {size} characters ({len(value)})")
            for where, value, size in checks if isinstance(value, str) and len(value) > size]


def parse_request(body: Any, *, allowed: frozenset[str] = _POST_FIELDS,
                  manifest_required: bool = True) -> Request:
    """Check a request body: every field by type, the manifest, the configuration."""
    out = Validation()
    if not isinstance(body, dict):
        out.errors.append(Problem("(body)", "expected a JSON object"))
        return Request(None, {}, out)
    _check_fields(body, allowed, out)
    manifest = body.get("manifest")
    if isinstance(manifest, str):  # the documents type it "String": a JSON text is fine too
        try:
            manifest = safejson.loads(manifest)  # deep nesting, NUL: 400, never 500
        except ValueError as exc:
            out.errors.append(Problem("manifest", f"not valid JSON: {exc}"))
            return Request(None, dict(body), out)
    if manifest is None:
        if manifest_required or "manifest" in body:
            out.errors.append(Problem("manifest", "required: a Seed 1.0.0 manifest"))
        manifest_ok = None
    else:
        manifest, filled = normalize_manifest(manifest)
        errors, warnings = check_manifest(manifest)
        if isinstance(manifest, dict):
            errors += _check_sizes(manifest)
        out.errors += errors
        out.warnings += filled + warnings
        manifest_ok = manifest if not errors else None
        name = (manifest.get("job") or {}).get("name") if isinstance(manifest, dict) else None
        if isinstance(name, str) and name in RESERVED_TYPE_NAMES:
            out.errors.append(Problem("job.name", f"{name!r} is reserved by the registry API "
                                                  "(/v6/job-types/{name}/)"))
        elif isinstance(name, str) and name in RESERVED_UWS_NAMES:
            out.errors.append(Problem("job.name", f"{name!r} is reserved by VOSI (/uws/{name})"))
    return Request(manifest_ok if manifest is not None else None, dict(body), out)


def _check_config(request: Request, manifest: dict[str, Any] | None,
                  stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """Check the request's configuration against ``manifest``; unmask kept secrets."""
    if "configuration" not in request.fields:
        return None
    configuration = request.fields["configuration"]
    if manifest is None:  # the manifest's own errors are reported already
        return configuration
    errors, warnings = check_configuration(configuration, manifest)
    request.validation.errors += errors
    request.validation.warnings += warnings
    if errors or not isinstance(configuration, dict):
        return configuration
    settings = dict(configuration.get("settings") or {})
    old = (stored or {}).get("settings") or {}
    for name, value in settings.items():
        if value == SECRET_MASK:
            if name in old:
                settings[name] = old[name]
            else:
                request.validation.errors.append(Problem(
                    f"configuration.settings.{name}",
                    f"{SECRET_MASK!r} stands for the stored value, and none is stored"))
    return {**configuration, "settings": settings} if "settings" in configuration \
        else configuration


def check_request(body: Any, session: Session | None = None) -> Validation:
    """What POSTing ``body`` would find wrong: the one verdict on a job type.

    ``POST /v6/job-types/validation/`` passes a session, so that a ``"*****"``
    setting may stand for the stored value; ``uws-server jobtype validate``
    has no database and checks ``body`` as a first registration.
    """
    request = parse_request(body)
    stored = None
    if request.manifest is not None and session is not None:
        job = request.manifest["job"]
        existing = find_version(session, job["name"], job["jobVersion"])
        stored = existing.configuration if existing is not None else None
    _check_config(request, request.manifest, stored)
    return request.validation


def _validate(session: Session, body: Any) -> Validation:
    """``POST /v6/job-types/validation/``: what POSTing ``body`` would find wrong."""
    return check_request(body, session)


def _apply(job_type: JobType, fields: dict[str, Any], configuration: dict[str, Any] | None,
           now: Any) -> bool:
    """Set the plain fields a request gives; return whether anything changed."""
    changed = False
    for key in ("icon_code", "is_published", "max_scheduled", "max_tries"):
        if key in fields and getattr(job_type, key) != fields[key]:
            setattr(job_type, key, fields[key])
            changed = True
    if "is_active" in fields and job_type.is_active != fields["is_active"]:
        job_type.is_active = fields["is_active"]
        job_type.deprecated = None if job_type.is_active else now
        changed = True
    if "is_paused" in fields and job_type.is_paused != fields["is_paused"]:
        job_type.is_paused = fields["is_paused"]
        job_type.paused = now if job_type.is_paused else None
        changed = True
    if configuration is not None and job_type.configuration != configuration:
        job_type.configuration = configuration
        changed = True
    if changed:
        job_type.last_modified = now
    return changed


def _create(session: Session, identity: Identity, body: Any) -> tuple[JobType, bool, Validation]:
    """``POST /v6/job-types/``: a new job type, a new version, or a new revision.

    Returns
    -------
    tuple
        The job type version, whether a version or revision was created, and the warnings.

    Raises
    ------
    PermissionDenied
        The caller is not an admin.
    InvalidJobType
        The request has errors; nothing was written.
    """
    require_admin(identity)
    request = parse_request(body)
    if request.manifest is not None and "docker_image" not in request.fields:
        request.validation.errors.append(Problem("docker_image", "required"))
    existing = None
    if request.manifest is not None:
        job = request.manifest["job"]
        existing = find_version(session, job["name"], job["jobVersion"])
    configuration = _check_config(request, request.manifest,
                                  existing.configuration if existing else None)
    if not request.validation.is_valid or request.manifest is None:
        raise InvalidJobType(request.validation)
    job_type, revision, created = jobtypes.register_manifest(
        session, request.manifest, docker_image=request.fields["docker_image"],
        configuration=configuration or {}, created_by=identity.label)
    _apply(job_type, request.fields, configuration, utcnow())
    session.flush()
    log.info("registry: %s %s %s (revision %d) by %s", job_type.name, job_type.version,
             "registered" if created else "updated", revision.revision_num, identity.label)
    return job_type, created, request.validation


def _edit(session: Session, identity: Identity, name: str, version: str, body: Any
          ) -> Validation:
    """``PATCH /v6/job-types/{name}/{version}/``: change fields; a new manifest or image
    adds a revision.

    Raises
    ------
    PermissionDenied, UnknownJobType, InvalidJobType
    """
    require_admin(identity)
    job_type = get_version(session, name, version)
    request = parse_request(body, allowed=_PATCH_FIELDS, manifest_required=False)
    current = jobtypes.current_revision(session, job_type)
    manifest = request.manifest if "manifest" in request.fields else current.manifest
    if request.manifest is not None:
        job = request.manifest["job"]
        if (job["name"], job["jobVersion"]) != (name, version):
            request.validation.errors.append(Problem(
                "manifest", f"describes {job['name']} {job['jobVersion']}, not {name} "
                            f"{version}: POST a new version to /v6/job-types/ instead"))
    configuration = _check_config(request, manifest, job_type.configuration)
    if "configuration" not in request.fields and "manifest" in request.fields \
            and manifest is not None:
        errors, _warnings = check_configuration(job_type.configuration, manifest)
        request.validation.errors += [Problem(p.name, f"{p.description} (the stored "
                                              "configuration no longer fits the manifest)")
                                      for p in errors]
    if not request.validation.is_valid:
        raise InvalidJobType(request.validation)
    assert manifest is not None  # a "manifest" field that is not one is an error above
    image = request.fields.get("docker_image", job_type.docker_image)
    if manifest != current.manifest or image != current.docker_image:
        _, revision, _ = jobtypes.register_manifest(session, manifest, docker_image=image,
                                                    created_by=identity.label)
        log.info("registry: %s %s revision %d by %s", name, version, revision.revision_num,
                 identity.label)
    if _apply(job_type, request.fields, configuration, utcnow()):
        log.info("registry: %s %s edited by %s (%s)", name, version, identity.label,
                 ", ".join(sorted(k for k in request.fields if k != "manifest")))
    session.flush()
    return request.validation


@dataclass(frozen=True)
class Registered:
    """What ``POST /v6/job-types/`` did: the version as it now is, and whether it is new."""

    job_type: JobType
    revision: JobTypeRevision  # the version's current revision
    created: bool  # a new version or revision (201), not an update of fields (200)
    validation: Validation  # its warnings


@dataclass(frozen=True)
class Revisions:
    """Revisions of one job type version, with the name's versions (oldest first) that
    their documents summarise."""

    job_type: JobType
    items: list[JobTypeRevision]
    versions: list[str]


class RegistryService:
    """The job-type registry: reads, validation, registration and edits.

    Every method opens and ends its own transaction (a write that raises
    writes nothing). What it returns is fully loaded, ready to render after
    the session is closed (sessions do not expire objects on commit).

    Parameters
    ----------
    db
        The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reading ---------------------------------------------------------------------------
    def names(self, filters: Filters, order: Sequence[str]) -> list[NameSummary]:
        """``/v6/job-type-names/``: names matching ``filters``, by ``order``."""
        with self.db.read() as session:
            return queries.list_names(session, filters, order)

    def types(self, filters: Filters, order: Sequence[str]) -> list[JobType]:
        """``/v6/job-types/``: versions matching ``filters``, by ``order``."""
        with self.db.read() as session:
            return queries.list_types(session, filters, order)

    def versions(self, name: str, is_active: bool | None) -> list[JobType]:
        """``/v6/job-types/{name}/``: the versions of a name, newest first; 404 if none."""
        with self.db.read() as session:
            return queries.versions_of(session, name, is_active)

    def details(self, name: str, version: str) -> tuple[JobType, JobTypeRevision]:
        """``/v6/job-types/{name}/{version}/``: a version and its current revision."""
        with self.db.read() as session:
            job_type = get_version(session, name, version)
            return job_type, jobtypes.current_revision(session, job_type)

    def revisions(self, name: str, version: str) -> Revisions:
        """``.../revisions/``: a version's revisions, newest first."""
        with self.db.read() as session:
            job_type, items = queries.revisions_of(session, name, version)
            return Revisions(job_type, items, self._versions(session, name))

    def revision(self, name: str, version: str, number: int) -> Revisions:
        """``.../revisions/{number}/``: that one revision (404 if it does not exist)."""
        with self.db.read() as session:
            job_type, found = queries.revision_of(session, name, version, number)
            return Revisions(job_type, [found], self._versions(session, name))

    @staticmethod
    def _versions(session: Session, name: str) -> list[str]:
        return [t.version for t in reversed(queries.versions_of(session, name, None))]

    def status(self, identity: Identity, started: datetime, ended: datetime,
               is_active: bool | None) -> list[tuple[JobType, list[StatusCount]]]:
        """``/v6/job-types/status/``: counts by phase per version within a time range, of
        the jobs the caller may see."""
        with self.db.read() as session:
            return queries.status(session, started, ended, is_active, readable(identity))

    def pending(self, identity: Identity) -> list[tuple[JobType, int, datetime]]:
        """``/v6/job-types/pending/``: queued jobs (the caller may see) per version."""
        with self.db.read() as session:
            return queries.pending(session, readable(identity))

    def running(self, identity: Identity) -> list[tuple[JobType, int, datetime]]:
        """``/v6/job-types/running/``: executing jobs (the caller may see) per version."""
        with self.db.read() as session:
            return queries.running(session, readable(identity))

    def system_failures(self, identity: Identity) -> list[SystemFailure]:
        """``/v6/job-types/system-failures/``: ERROR jobs with a system reason (that the
        caller may see), grouped."""
        with self.db.read() as session:
            return queries.system_failures(session, readable(identity))

    # -- writing ---------------------------------------------------------------------------
    def validate(self, body: Any) -> Validation:
        """What registering ``body`` would find wrong; writes nothing (and needs no role)."""
        with self.db.read() as session:
            return _validate(session, body)

    def create(self, identity: Identity, body: Any) -> Registered:
        """Register a job type, a new version or a new revision, or update one's fields.

        Raises
        ------
        PermissionDenied
            The caller is not an admin.
        InvalidJobType
            The request has errors; nothing was written.
        """
        with self.db.write() as session:
            job_type, created, checked = _create(session, identity, body)
            revision = jobtypes.current_revision(session, job_type)
        return Registered(job_type, revision, created, checked)

    def edit(self, identity: Identity, name: str, version: str, body: Any) -> Validation:
        """Change a version's fields; a new manifest or image adds a revision.

        Raises
        ------
        PermissionDenied, UnknownJobType, InvalidJobType
            Nothing was written.
        """
        with self.db.write() as session:
            return _edit(session, identity, name, version, body)
