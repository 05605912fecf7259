"""The rules of the Rubin OCPS v1 dialect: which jobs of the ``ocps`` job type may exist.

An OCPS job runs ``bash -c <command>``, in a clone of a git repository when
it names one (``url``; without one it is a command-only job), so the
service's rule that nothing a client sends is interpreted by a shell is kept
by allow-lists the operator writes: the command text must be exactly one of
``UWS_OCPS_ALLOWED_COMMANDS`` and the repository URL must start with one of
``UWS_OCPS_ALLOWED_REPOS``. Client data reaches the shell only as environment
variable values, which bash does not re-parse. :func:`check_job` is the
``ocps`` type's check in :mod:`~uws_server.services.validators` (wired in
:func:`~uws_server.wiring.build_components`): the job service runs it on every
creation and parameter change, so the rules hold for every front door
(``/api/v1`` and ``/uws/ocps``), not only for the OCPS one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import InvalidParameter, PermissionDenied

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

JOB_TYPE = "ocps"

#: Variables the runner sets itself, or that change how bash or the loader behave.
RESERVED_NAMES = frozenset({
    "JOB_ID", "JOB_OUTPUT_DIR", "JOB_SOURCE_DIR", "SRC_GIT_URL", "GIT_COMMIT_REF", "PATH", "HOME",
    "LD_PRELOAD", "LD_LIBRARY_PATH", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS",
})
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
COMMIT_REF = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
MAX_ENVIRONMENT_CHARS = 64 * 1024  # one argv entry of the runner: far below Linux's 128 KiB
MAX_REPLICAS = 32
_COMMANDS_SETTING = "UWS_OCPS_ALLOWED_COMMANDS"
_REPOS_SETTING = "UWS_OCPS_ALLOWED_REPOS"

#: The ``ocps`` job type: a system job type registered at start-up (see ``register``).
MANIFEST: dict[str, Any] = {
    "seedVersion": "1.0.0",
    "job": {
        "name": JOB_TYPE,
        "jobVersion": "1.0.0",
        "packageVersion": "1.0.0",
        "title": "OCPS job",
        "description": ("Clones a git repository (if given one) and runs one of the operator's "
                        "allowed commands in it (the Rubin OCPS v1 dialect, /api/v1)."),
        "tags": ["ocps", "system"],
        "maintainer": {"name": "uws-server developers", "email": "uws-server@example.org"},
        "timeout": 86400,
        "resources": {"scalar": [{"name": "cpus", "value": 1}, {"name": "mem", "value": 1024}]},
        "interface": {
            "command": ("${PYTHON} -m uws_server.programs.ocps_runner --job-dir=${JOB_DIR} "
                        "--output-dir=${OUTPUT_DIR} --job-id=${JOB_ID} --url=${url} "
                        "--commit-ref=${commit_ref} --environment=${environment} "
                        "--command=${command}"),
            "inputs": {"json": [
                {"name": "command", "type": "string", "required": True},
                {"name": "url", "type": "string", "required": False},
                {"name": "commit_ref", "type": "string", "required": False},
                {"name": "environment", "type": "array", "required": False},
            ]},
            "outputs": {"files": [
                {"name": "output", "pattern": "**/*", "multiple": True, "required": False},
            ]},
        },
    },
}


def register(session: Session) -> list[str]:
    """Register (or revise) the ``ocps`` system job type; return what changed."""
    from ..jobtypes.service import register_manifest

    job_type, revision, created = register_manifest(session, MANIFEST, is_system=True)
    return [f"{job_type.name} {job_type.version} r{revision.revision_num}"] if created else []


# -- the operator's allow-lists ------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def allowed_commands(settings: Settings) -> list[str]:
    """The exact command texts a job may run."""
    return _lines(settings.ocps_allowed_commands)


def allowed_repos(settings: Settings) -> list[str]:
    """The URL prefixes a job's repository must start with."""
    return _lines(settings.ocps_allowed_repos)


def require_configured(settings: Settings) -> None:
    """403 unless the operator has allowed some commands.

    The repository list is needed only by jobs that clone one: a service that
    allows commands but no repository runs command-only jobs (``url`` absent
    or empty), and :func:`check_url` refuses every repository with a 403.
    """
    if not allowed_commands(settings):
        raise PermissionDenied(
            f"OCPS jobs are disabled: the operator must set {_COMMANDS_SETTING} (and "
            f"{_REPOS_SETTING} for jobs that clone a repository), one allowed entry per line")


# -- checks of single values ---------------------------------------------------------------------
def check_command(settings: Settings, command: str) -> None:
    """The command must be exactly one of the allowed commands (403)."""
    if command not in allowed_commands(settings):
        raise PermissionDenied(f"command: not one of the commands allowed on this service "
                               f"({_COMMANDS_SETTING}): {command[:200]!r}")


def check_url(settings: Settings, url: str) -> None:
    """A URL without whitespace or leading ``-`` (400) that starts with an allowed prefix (403)."""
    if not url or url.startswith("-") or any(c.isspace() for c in url):
        raise InvalidParameter(f"url: must be a git URL without whitespace that does not start "
                               f"with '-', got {url[:200]!r}")
    segments = url.split("?", 1)[0].split("#", 1)[0].split("/")
    if any(seg in (".", "..") for seg in segments) or "%2e" in url.lower() or "\\" in url:
        raise InvalidParameter(f"url: dot segments and escapes are not allowed, got {url[:200]!r}")
    if not any(_under(url, prefix) for prefix in allowed_repos(settings)):
        raise PermissionDenied(f"url: repository not allowed on this service "
                               f"({_REPOS_SETTING}): {url[:200]!r}")


def _under(url: str, prefix: str) -> bool:
    """Whether ``url`` is ``prefix`` or lies under it at a path boundary.

    ``.../uws_scripts`` allows ``.../uws_scripts``, ``.../uws_scripts.git`` and
    ``.../uws_scripts/...``, never ``.../uws_scripts-evil``.
    """
    if not url.startswith(prefix):
        return False
    rest = url[len(prefix):]
    return prefix.endswith("/") or rest in ("", ".git", ".git/", "/") or rest[0] in "/?#"


def check_source(settings: Settings, url: str | None, commit_ref: str | None) -> None:
    """The repository to clone, if any: ``url`` absent or ``""`` means none (a command-only
    job), ``commit_ref`` absent or ``""`` the default branch; a ``commit_ref`` without a
    ``url`` is a 400 (there is nothing to check out)."""
    if url:
        check_url(settings, url)
    if commit_ref:
        if not url:
            raise InvalidParameter(f"commit_ref: given without a url, so there is no repository "
                                   f"to check it out of: {commit_ref[:200]!r}")
        check_commit_ref(commit_ref)


def check_commit_ref(commit_ref: str) -> None:
    """A branch, tag or commit name git cannot mistake for an option (400)."""
    if not COMMIT_REF.fullmatch(commit_ref) or commit_ref.startswith("-"):
        raise InvalidParameter("commit_ref: expected letters, digits and . _ / - (at most 200, "
                               f"not starting with '-'), got {commit_ref[:200]!r}")


def check_environment(items: Any) -> list[dict[str, str]]:
    """``[{"name", "value"}]`` with safe, unique names and string values (400)."""
    if not isinstance(items, list):
        raise InvalidParameter("environment: expected a list of {\"name\", \"value\"} objects")
    seen: set[str] = set()
    checked = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "name" not in item or "value" not in item:
            raise InvalidParameter(f"environment[{index}]: expected an object with \"name\" "
                                   "and \"value\"")
        name, value = item["name"], item["value"]
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            raise InvalidParameter(f"environment[{index}].name: not a valid variable name "
                                   f"(letters, digits, _; not starting with a digit): {name!r}")
        if name in RESERVED_NAMES:
            raise InvalidParameter(f"environment[{index}].name: {name} is set by the service "
                                   "and may not be given")
        if name in seen:
            raise InvalidParameter(f"environment[{index}].name: {name} given twice")
        if not isinstance(value, str):
            raise InvalidParameter(f"environment[{index}].value ({name}): expected a string")
        if "\x00" in value:
            raise InvalidParameter(f"environment[{index}].value ({name}): contains a NUL "
                                   "character")
        seen.add(name)
        checked.append({"name": name, "value": value})
    if len(json.dumps(checked)) > MAX_ENVIRONMENT_CHARS:
        raise InvalidParameter(f"environment: larger than {MAX_ENVIRONMENT_CHARS} characters")
    return checked


# -- the whole job ------------------------------------------------------------------------------
def check_job(settings: Settings, values: Mapping[str, Sequence[str]]) -> None:
    """Every rule, on an ``ocps`` job's parameter values (text, as stored).

    The ``ocps`` job type's :class:`~uws_server.services.validators.JobCheck`:
    run whenever such a job is created or its parameters change.
    """
    require_configured(settings)

    def one(name: str) -> str | None:
        found = values.get(name) or []
        return found[0] if found else None

    command = one("command")
    if command is None:
        raise InvalidParameter("command: required")
    check_command(settings, command)
    check_source(settings, one("url"), one("commit_ref"))
    if (environment := one("environment")) is not None:
        try:
            check_environment(json.loads(environment))
        except ValueError:
            raise InvalidParameter("environment: expected a JSON list") from None


@dataclass(frozen=True)
class OcpsRequest:
    """A checked ``PUT /api/v1/job`` body."""

    run_id: str | None
    command: str
    url: str | None  # None: no repository to clone
    commit_ref: str | None  # None: the default branch
    environment: list[dict[str, str]]
    replicas: int

    def params(self) -> list[tuple[str, str]]:
        """The job parameters and UWS control parameters for ``JobService.create``."""
        pairs = [("command", self.command)]
        if self.url is not None:
            pairs.append(("url", self.url))
        if self.commit_ref is not None:
            pairs.append(("commit_ref", self.commit_ref))
        pairs.append(("environment", json.dumps(self.environment, separators=(",", ":"))))
        if self.run_id is not None:
            pairs.append(("RUNID", self.run_id))
        pairs.append(("PHASE", "RUN"))
        return pairs


def _string(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidParameter(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"{name}: expected a string")
    if "\x00" in value:
        raise InvalidParameter(f"{name}: contains a NUL character")
    return value


def parse_request(settings: Settings, body: Any) -> OcpsRequest:
    """Check a ``PUT /api/v1/job`` body: 403 when disabled, 400 for a malformed field, 403 for
    a command or repository not allowed."""
    require_configured(settings)
    if not isinstance(body, dict):
        raise InvalidParameter("request body: expected a JSON object")
    run_id = body.get("run_id")
    if isinstance(run_id, int) and not isinstance(run_id, bool):
        run_id = str(run_id)
    elif run_id is not None and not isinstance(run_id, str):
        raise InvalidParameter("run_id: expected a string")
    if run_id is not None and ("\x00" in run_id or len(run_id) > 64):
        raise InvalidParameter("run_id: at most 64 characters, no NUL")
    command = _string(body, "command", required=True)
    url = _string(body, "url", required=False) or None  # "": no repository, as the original
    commit_ref = _string(body, "commit_ref", required=False) or None  # "": default branch
    assert command is not None
    environment = check_environment(body.get("environment") or [])
    replicas = body.get("replicas", 1)
    if replicas is None:
        replicas = 1
    if isinstance(replicas, bool) or not isinstance(replicas, int) \
            or not 1 <= replicas <= MAX_REPLICAS:
        raise InvalidParameter(f"replicas: expected an integer from 1 to {MAX_REPLICAS}")
    check_command(settings, command)
    check_source(settings, url, commit_ref)
    return OcpsRequest(run_id, command, url, commit_ref, environment, replicas)
