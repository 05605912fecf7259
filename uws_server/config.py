"""Settings, from one place: ``UWS_*`` environment variables or one TOML file.

The embedded default needs nothing installed: SQLite under a data directory,
the local executor, bound to 127.0.0.1. A TOML file named by ``UWS_CONFIG``
may set the same keys in lower case without the prefix (``database_url``);
environment variables win over the file.

Every name is checked: an unknown key in the file or an unknown ``UWS_*``
variable is a :class:`ConfigError` naming it and the closest known name, so
that a typo (``prot = 8093``) stops the service instead of being ignored.
Known names are the :class:`Settings` fields, the executors' own variables
(declared beside each executor's settings, ``ENVIRONMENT``) and the
test-harness names of :data:`HARNESS_VARIABLES`, which the service ignores.
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting has a value the service cannot use, or a name the service does not know."""


#: ``UWS_*`` variables read by the test suite, the benchmarks and the scripts, never by the
#: service: accepted and ignored, so that a harness exporting them (CI sets
#: ``UWS_REQUIRE_POSTGRES=1``) can still start servers. New harness variables should use a
#: reserved prefix, ``UWS_TEST_`` (tests, scripts) or ``UWS_BENCH_`` (bench/).
HARNESS_VARIABLES = frozenset({
    "UWS_REQUIRE_POSTGRES", "UWS_REQUIRE_SLURM", "UWS_REQUIRE_CONDOR_POOL", "UWS_REQUIRE_BROWSER",
    "UWS_CONDOR_POOL", "UWS_CONDOR_POOL_SPOOL", "UWS_CONDOR_POOL_TIMEOUT",
    "UWS_CONDOR_POOL_WORKDIR", "UWS_CONDOR_SCHEDD", "UWS_REGENERATE_CONDOR_EXAMPLE",
})
HARNESS_PREFIXES = ("UWS_TEST_", "UWS_BENCH_")

#: Variables the service itself puts in a job's environment (a job may run ``uws-server``).
JOB_VARIABLES = frozenset({"UWS_JOB_ID", "UWS_SUBMIT_TOKEN"})
#: ... and the prefix of a batch job's filesystem paths (``UWS_FS_SCRATCH``, docs/batches.md).
JOB_PREFIXES = ("UWS_FS_",)

LOG_FORMATS = ("text", "json")

#: Linux's MAX_ARG_STRLEN: one argv word (with its final NUL) is at most this many bytes; a
#: longer parameter value could never run ("Argument list too long").
MAX_ARG_BYTES = 32 * 4096


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, with its embedded default."""

    data_dir: Path = Path("./data")  # SQLite file, job directories (jobs/), sockets (run/)
    database_url: str = ""  # empty: SQLite file under data_dir
    host: str = "127.0.0.1"  # where `serve` listens
    port: int = 8080  # where `serve` listens
    base_url: str = ""  # public URL prefix when behind a proxy; empty: from the request
    # Host headers answered (besides base_url's host and localhost/127.0.0.1/[::1]/host with
    # the port): host or host:port, comma- or space-separated; "*" answers any (api.guards).
    allowed_hosts: str = ""
    # Origins (scheme://host[:port]) besides the service's own that may POST/PUT/PATCH/DELETE.
    allowed_origins: str = ""
    executor: str = "local"  # local | slurm | htcondor
    local_concurrency: int = 2  # jobs the local executor runs at once
    jobtypes_dir: str = ""  # extra Seed manifests to register at start-up
    load_example_jobtypes: bool = True  # register echo, sleep and wordcount
    max_wait: int = 60  # cap of a blocking WAIT, seconds
    max_waiters: int = 1000  # blocked WAITs per process, each on a thread of its own
    wake_via_database: bool = True  # PostgreSQL: also wake waiters on other hosts (NOTIFY)
    default_duration: int = 3600  # executionDuration of a new job, seconds
    max_duration: int = 86400  # the largest executionDuration a client may set
    default_lifetime: int = 7 * 86400  # destruction = creation + this
    max_lifetime: int = 30 * 86400  # the latest destruction a client may set, from creation
    destruction_policy: str = "delete"  # delete | archive
    max_upload_bytes: int = 64 * 1024 * 1024  # one uploaded file
    max_request_bytes: int = 256 * 1024 * 1024  # one request body
    max_parameter_chars: int = 64 * 1024  # a text parameter's value; a job type may lower it
    fetch_timeout: float = 30.0  # by-reference inputs
    fetch_max_bytes: int = 256 * 1024 * 1024  # the largest by-reference input fetched
    allow_url_inputs: bool = True  # whether file inputs may be given as http(s) URLs
    # SSRF guard (uws_server.urlguard): networks (CIDR) and host patterns, comma- or
    # space-separated. By default loopback, link-local, private, unique-local and every other
    # non-global address is refused; allow opens some, deny (which wins) closes more.
    url_allow: str = ""
    url_deny: str = ""  # what URL inputs may never reach (see url_allow); deny wins
    # Webhook notifications (docs/notifications.md), sent by the dispatcher side. The secret
    # signs every delivery (X-UWS-Signature, HMAC-SHA256); empty: one is generated and kept in
    # <data_dir>/webhook-secret. Never shown by the service.
    webhook_secret: str = field(default="", repr=False)
    webhook_timeout: float = 5.0  # seconds per attempt (connect, send, read the answer)
    webhook_max_age: float = 86400.0  # retry a failing delivery for this long, then give up
    webhook_retry_base: float = 10.0  # first retry after this many seconds, doubling each time
    webhook_retry_max: float = 3600.0  # the longest wait between two attempts
    fetch_concurrency: int = 4  # by-reference inputs fetched at once, in the background
    poll_interval: float = 1.0  # dispatcher tick when nothing wakes it
    # Most queued jobs the dispatcher claims and hands over in one bulk call (one Slurm
    # array, one HTCondor cluster) on backends that take jobs in bulk (docs/operations.md).
    bulk_slice_size: int = 10000
    # How long a renewal holds the single dispatcher lease (renewed every tick); a standby
    # dispatcher takes over once it lapses. Keep it well above poll_interval.
    lease_seconds: float = 30.0
    unknown_grace: float = 120.0  # seconds a backend may not know a job before ERROR
    ocps_allowed_commands: str = ""  # OCPS dialect: exact command strings allowed, one per line
    ocps_allowed_repos: str = ""  # OCPS dialect: git URL prefixes allowed, one per line
    service_name: str = "uws-server"  # tag on backend jobs; unique per instance
    # Who may call (docs/auth.md): anonymous callers are auto | none | read | write; "auto" is
    # an anonymous operator while no user exists and no proxy is configured, else 401.
    anonymous: str = "auto"
    trusted_proxy_header: str = ""  # e.g. X-Auth-Request-User; empty: no proxy
    trusted_proxies: str = "127.0.0.1/32, ::1/128"  # where the proxy header is believed from
    # Per-user quotas (0 = no limit); `uws-server user quota` overrides them per user.
    quota_active_jobs: int = 0  # jobs a user may have queued or executing at once
    quota_stored_jobs: int = 0  # jobs a user may keep, in any phase
    quota_upload_bytes_per_job: int = 0  # uploaded bytes of one job
    quota_upload_bytes_total: int = 0  # uploaded bytes of all a user's stored jobs
    # The web interface (/ui, docs/ui.md): the key that signs its session cookies; empty:
    # a random key generated once and kept in data_dir/ui-secret (mode 0600).
    ui_secret: str = ""
    ui_session_hours: float = 12.0  # how long a browser stays signed in
    # Batches (docs/batches.md): shared filesystems a batch may ask for by name,
    # "name=/absolute/path" comma- or space-separated (a job gets UWS_FS_<NAME>); the most
    # cores and MiB of memory one job may ask for (0 = no limit but the job type's).
    filesystems: str = ""  # name=/absolute/path, ... (see the comment above)
    max_cpu: int = 0  # cores one job may ask for (0: only the job type limits it)
    max_memory_mib: int = 0  # MiB one job may ask for (0: only the job type limits it)
    max_batch_jobs: int = 100_000  # jobs one batch may have (0 = no limit)
    # Prometheus /metrics (docs/operations.md): answered to a caller from these networks
    # (CIDR, comma- or space-separated; empty: none) or one sending "Authorization: Bearer"
    # with this token (empty: no token opens it).
    metrics_networks: str = "127.0.0.1/32, ::1/128"  # who may scrape /metrics
    metrics_token: str = field(default="", repr=False)  # a Bearer token that opens /metrics
    log_level: str = "INFO"  # DEBUG | INFO | WARNING | ERROR
    log_format: str = "text"  # text | json (one JSON object per line)
    extra: Mapping[str, str] = field(default_factory=dict)  # the executors' UWS_* variables

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'uws.sqlite3').resolve()}"

    @property
    def jobs_dir(self) -> Path:
        """Where each job's directory (inputs, outputs, logs) lives."""
        return self.data_dir / "jobs"

    @property
    def run_dir(self) -> Path:
        """Sockets and other per-host runtime files."""
        return self.data_dir / "run"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some settings replaced (CLI flags, tests)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    """Turn a raw environment/TOML value into the field's type, or explain why not."""
    if kind in (bool, "bool"):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"UWS_{name.upper()}: expected a boolean, got {raw!r}")
    if kind in (int, "int", float, "float"):
        target = int if kind in (int, "int") else float
        try:
            return target(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"UWS_{name.upper()}: expected a number, got {raw!r}") from None
    if kind in (Path, "Path"):
        return Path(str(raw))
    return str(raw)


def executor_variables() -> frozenset[str]:
    """Every ``UWS_SLURM_*`` and ``UWS_HTCONDOR_*`` variable an executor reads.

    Declared beside each executor's settings (``ENVIRONMENT``), the one place
    its ``from_env`` reads from; imported here, late, because the executor
    packages import this module.
    """
    from .executors.htcondor.settings import ENVIRONMENT as htcondor
    from .executors.slurm.settings import ENVIRONMENT as slurm

    return frozenset(htcondor) | frozenset(slurm)


def _is_ignored(name: str) -> bool:
    """Harness and job-environment variables: not settings, never an error."""
    return name in HARNESS_VARIABLES or name in JOB_VARIABLES or name.startswith(
        HARNESS_PREFIXES + JOB_PREFIXES)


def _unknown(names: list[str], known: set[str], *, noun: str, where: str = "") -> ConfigError:
    """One line naming every unknown name and, for each, the closest known one (difflib).

    Names are compared without their ``UWS_`` prefix, which every candidate shares.
    """
    bare = {name.removeprefix("UWS_"): name for name in known}
    parts = []
    for name in sorted(names):
        close = difflib.get_close_matches(name.removeprefix("UWS_"), sorted(bare), n=1,
                                          cutoff=0.6)
        shown, hint = (name, bare[close[0]] if close else "")
        if where:
            shown, hint = repr(shown), repr(hint) if hint else ""
        parts.append(f"unknown {noun} {shown}" + (f" (did you mean {hint}?)" if hint else ""))
    return ConfigError((f"{where}: " if where else "") + "; ".join(parts))


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from ``UWS_CONFIG`` (TOML) and ``UWS_*`` variables.

    The executors' own variables (``UWS_SLURM_PARTITION``...) are kept in
    ``extra``; a TOML key ``slurm_partition`` means the same. Unknown names
    are errors (:class:`ConfigError`), harness variables are ignored.
    """
    env = dict(os.environ if environ is None else environ)
    known = {f.name: f.type for f in fields(Settings) if f.name != "extra"}
    executor_names = executor_variables()
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    config_file = env.get("UWS_CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as handle:
                table = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"UWS_CONFIG={config_file}: {exc}") from None
        unknown = []
        for key, value in table.items():
            name = key.lower()
            if name in known:
                values[name] = value
            elif f"UWS_{name.upper()}" in executor_names and not isinstance(value, dict | list):
                extra[f"UWS_{name.upper()}"] = str(value)
            else:
                unknown.append(key)
        if unknown:
            raise _unknown(unknown, set(known) | {n[4:].lower() for n in executor_names},
                           noun="key", where=config_file)
    unknown = []
    for key, value in env.items():
        if not key.startswith("UWS_") or key == "UWS_CONFIG" or _is_ignored(key):
            continue
        name = key[4:].lower()
        if name in known:
            values[name] = value
        elif key in executor_names:
            extra[key] = value
        else:
            unknown.append(key)
    if unknown:
        raise _unknown(unknown, {f"UWS_{n.upper()}" for n in known} | executor_names
                       | {"UWS_CONFIG"}, noun="variable")
    settings = {name: _coerce(name, raw, known[name]) for name, raw in values.items()}
    result = Settings(**settings, extra=extra).with_overrides(**overrides)
    _check(result)
    return result


def _check(settings: Settings) -> None:
    """Refuse settings that would only fail later, with a message that says which."""
    if settings.executor not in {"local", "slurm", "htcondor"}:
        raise ConfigError(f"UWS_EXECUTOR: unknown executor {settings.executor!r}")
    if settings.destruction_policy not in {"delete", "archive"}:
        raise ConfigError("UWS_DESTRUCTION_POLICY: expected 'delete' or 'archive'")
    if settings.local_concurrency < 1:
        raise ConfigError("UWS_LOCAL_CONCURRENCY: must be at least 1")
    if settings.bulk_slice_size < 1:
        raise ConfigError("UWS_BULK_SLICE_SIZE: must be at least 1")
    if not settings.lease_seconds > 0:
        raise ConfigError("UWS_LEASE_SECONDS: must be a positive number of seconds")
    if settings.max_wait < 0:
        raise ConfigError("UWS_MAX_WAIT: must not be negative")
    if settings.max_waiters < 0:
        raise ConfigError("UWS_MAX_WAITERS: must not be negative (0: WAIT never blocks)")
    if not 1 <= settings.max_parameter_chars < MAX_ARG_BYTES:
        raise ConfigError(f"UWS_MAX_PARAMETER_CHARS: must be from 1 to {MAX_ARG_BYTES - 1} "
                          "(one argument of a command line holds at most that many bytes)")
    if not settings.ui_session_hours > 0:
        raise ConfigError("UWS_UI_SESSION_HOURS: must be a positive number of hours")
    if not isinstance(logging.getLevelName(settings.log_level.upper()), int):
        raise ConfigError(f"UWS_LOG_LEVEL: unknown level {settings.log_level!r} (DEBUG, INFO, "
                          "WARNING, ERROR)")
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(f"UWS_LOG_FORMAT: expected 'text' or 'json', got "
                          f"{settings.log_format!r}")
    if settings.anonymous not in {"auto", "none", "read", "write"}:
        raise ConfigError(f"UWS_ANONYMOUS: expected auto, none, read or write, got "
                          f"{settings.anonymous!r}")
    try:
        from .auth.authenticator import parse_networks

        parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"UWS_TRUSTED_PROXIES: {exc}") from None
    for name in ("webhook_timeout", "webhook_max_age", "webhook_retry_base",
                 "webhook_retry_max"):
        if not getattr(settings, name) > 0:
            raise ConfigError(f"UWS_{name.upper()}: must be a positive number of seconds")
    try:
        parse_networks(settings.metrics_networks)
    except ValueError as exc:
        raise ConfigError(f"UWS_METRICS_NETWORKS: {exc}") from None
    for name in ("quota_active_jobs", "quota_stored_jobs", "quota_upload_bytes_per_job",
                 "quota_upload_bytes_total"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"UWS_{name.upper()}: must not be negative (0: no limit)")
    _check_batches(settings)
    _check_executor(settings)


def _check_batches(settings: Settings) -> None:
    """The batch hardware settings: a filesystem map that parses, limits not negative."""
    from .services.hardware import parse_filesystems

    try:
        parse_filesystems(settings.filesystems)
    except ValueError as exc:
        raise ConfigError(f"UWS_FILESYSTEMS: {exc}") from None
    for name in ("max_cpu", "max_memory_mib", "max_batch_jobs"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"UWS_{name.upper()}: must not be negative (0: no limit)")


def _check_executor(settings: Settings) -> None:
    """The chosen executor's own variables, read now so that a bad one stops the start."""
    try:
        if settings.executor == "slurm":
            from .executors.slurm.settings import SlurmSettings

            SlurmSettings.from_env(settings.extra)
        elif settings.executor == "htcondor":
            from .executors.htcondor.settings import HTCondorSettings

            HTCondorSettings.from_env(settings.extra)
    except ValueError as exc:
        raise ConfigError(f"{settings.executor} executor: {exc}") from None
