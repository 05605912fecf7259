"""Settings, from one place: ``UWS_*`` environment variables or one TOML file.

The embedded default needs nothing installed: SQLite under a data directory,
the local executor, bound to 127.0.0.1. A TOML file named by ``UWS_CONFIG``
may set the same keys in lower case without the prefix (``database_url``);
environment variables win over the file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, with its embedded default."""

    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: SQLite file under data_dir
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str = ""  # public URL prefix when behind a proxy; empty: from the request
    executor: str = "local"  # local | slurm | htcondor
    local_concurrency: int = 2
    jobtypes_dir: str = ""  # extra Seed manifests to register at start-up
    load_example_jobtypes: bool = True
    max_wait: int = 60  # cap of a blocking WAIT, seconds
    max_waiters: int = 64  # concurrent blocked requests per process
    wake_via_database: bool = True  # PostgreSQL: also wake waiters on other hosts (NOTIFY)
    default_duration: int = 3600  # executionDuration of a new job, seconds
    max_duration: int = 86400  # the largest executionDuration a client may set
    default_lifetime: int = 7 * 86400  # destruction = creation + this
    max_lifetime: int = 30 * 86400
    destruction_policy: str = "delete"  # delete | archive
    max_upload_bytes: int = 64 * 1024 * 1024
    max_request_bytes: int = 256 * 1024 * 1024
    fetch_timeout: float = 30.0  # by-reference inputs
    fetch_max_bytes: int = 256 * 1024 * 1024
    allow_url_inputs: bool = True
    poll_interval: float = 1.0  # dispatcher tick when nothing wakes it
    unknown_grace: float = 120.0  # seconds a backend may not know a job before ERROR
    ocps_allowed_commands: str = ""  # OCPS dialect: exact command strings allowed, one per line
    ocps_allowed_repos: str = ""  # OCPS dialect: git URL prefixes allowed, one per line
    service_name: str = "uws-server"  # tag on backend jobs; unique per instance
    log_level: str = "INFO"
    extra: Mapping[str, str] = field(default_factory=dict)

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


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from ``UWS_CONFIG`` (TOML) and ``UWS_*`` variables.

    Unknown ``UWS_*`` variables are kept in ``extra`` so that executors can
    read their own (``UWS_SLURM_PARTITION``...).
    """
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    config_file = env.get("UWS_CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as handle:
                values.update({k.lower(): v for k, v in tomllib.load(handle).items()})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"UWS_CONFIG={config_file}: {exc}") from None
    known = {f.name: f.type for f in fields(Settings) if f.name != "extra"}
    extra: dict[str, str] = {}
    for key, value in env.items():
        if key.startswith("UWS_") and key != "UWS_CONFIG":
            name = key[4:].lower()
            if name in known:
                values[name] = value
            else:
                extra[key] = value
    settings: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in known:
            extra[f"UWS_{name.upper()}"] = str(raw)
            continue
        settings[name] = _coerce(name, raw, known[name])
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
    if settings.max_wait < 0:
        raise ConfigError("UWS_MAX_WAIT: must not be negative")
