"""Settings of the Slurm executor, explicit and immutable.

The executor never reads the environment itself; :meth:`SlurmSettings.from_env`
turns the ``UWS_SLURM_*`` variables into settings so that the service wiring
decides where configuration comes from.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Tristate = Literal["auto", "yes", "no"]

_TRISTATE = {
    "auto": "auto",
    "": "auto",
    "yes": "yes",
    "true": "yes",
    "1": "yes",
    "on": "yes",
    "no": "no",
    "false": "no",
    "0": "no",
    "off": "no",
}

#: Every variable :meth:`SlurmSettings.from_env` reads, and so every ``UWS_SLURM_*`` name the
#: service accepts (:func:`uws_server.config.load_settings` refuses others).
ENVIRONMENT: tuple[str, ...] = tuple(f"UWS_SLURM_{name}" for name in (
    "PARTITION", "ACCOUNT", "QOS", "TIMEOUT", "EXTRA_ARGS", "ACCOUNTING", "JSON", "BIN", "CONF",
    "EXPORT_ENV", "MAX_JOBS", "HISTORY", "MAX_ARRAY_SIZE"))

#: Environment variables handed to sbatch (and so to the job) besides the job's own.
DEFAULT_EXPORT_ENV: tuple[str, ...] = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ")


def _tristate(name: str, value: str) -> Tristate:
    try:
        return _TRISTATE[value.strip().lower()]  # type: ignore[return-value]
    except KeyError:
        raise ValueError(f"{name} must be auto, yes or no, not {value!r}") from None


@dataclass(frozen=True)
class SlurmSettings:
    """How the Slurm executor reaches and uses a site's Slurm.

    Attributes
    ----------
    partition, account, qos
        Written as ``#SBATCH`` lines when set; ``None`` leaves Slurm's default.
    command_timeout
        Seconds any Slurm command may take before it is killed and a transient
        :class:`~uws_server.executors.base.ExecutorError` is raised.
    extra_sbatch_args
        More ``#SBATCH`` options (e.g. ``("--constraint=avx2",)``), site policy.
    accounting
        Whether ``sacct`` (slurmdbd) is available: ``"auto"`` asks
        ``scontrol show config`` once; ``"no"`` follows finished jobs with
        ``scontrol show job`` (they vanish after Slurm's ``MinJobAge``).
    json
        Whether to use ``--json`` output of squeue/sacct: ``"auto"`` tries it
        once and falls back to ``--format``/``--parsable2`` text.
    bin_prefix
        Directory holding the Slurm commands; empty means "search ``PATH``".
    slurm_conf
        ``SLURM_CONF`` for the commands; ``None`` keeps the service's own.
    export_env
        Names of the service's environment variables passed on to sbatch and
        so into jobs; nothing else of the service environment reaches a job.
    max_jobs
        How many of this service's jobs may sit in Slurm at once
        (:meth:`SlurmExecutor.free_slots`).
    history_window
        How far back ``sacct`` looks when adopting a lost submission.
    max_array_size
        Most tasks in one job array: the site's ``MaxArraySize`` (Slurm's
        default, 1001, allows tasks 0 to 1000). A bulk hand-over larger than
        this becomes several arrays.
    """

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    command_timeout: float = 15.0
    extra_sbatch_args: tuple[str, ...] = ()
    accounting: Tristate = "auto"
    json: Tristate = "auto"
    bin_prefix: str = ""
    slurm_conf: str | None = None
    export_env: tuple[str, ...] = DEFAULT_EXPORT_ENV
    max_jobs: int = 10000
    history_window: str = "now-7days"
    max_array_size: int = 1001

    def __post_init__(self) -> None:
        if not (self.command_timeout > 0 and math.isfinite(self.command_timeout)):
            raise ValueError("command_timeout must be a positive number of seconds")
        for name in ("accounting", "json"):
            _tristate(name, getattr(self, name))
        if self.max_array_size < 1:
            raise ValueError("max_array_size must be at least 1")
        for arg in self.extra_sbatch_args:
            if not arg.startswith("-") or "\n" in arg or "\r" in arg:
                raise ValueError(f"extra sbatch argument must be one option, not {arg!r}")
        for name in ("partition", "account", "qos"):
            value = getattr(self, name)
            if value is not None and (not value or any(c.isspace() for c in value)):
                raise ValueError(f"{name} must be a non-empty word, not {value!r}")

    def command(self, name: str) -> str:
        """The path (or bare name) to run Slurm command ``name`` with."""
        return os.path.join(self.bin_prefix, name) if self.bin_prefix else name

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SlurmSettings:
        """Settings from ``UWS_SLURM_*`` variables; unset ones keep the defaults.

        ``UWS_SLURM_PARTITION``, ``UWS_SLURM_ACCOUNT``, ``UWS_SLURM_QOS``,
        ``UWS_SLURM_TIMEOUT`` (seconds), ``UWS_SLURM_EXTRA_ARGS`` (shell-like
        words), ``UWS_SLURM_ACCOUNTING`` and ``UWS_SLURM_JSON`` (auto/yes/no),
        ``UWS_SLURM_BIN`` (directory), ``UWS_SLURM_CONF``,
        ``UWS_SLURM_EXPORT_ENV`` (comma-separated names), ``UWS_SLURM_MAX_JOBS``,
        ``UWS_SLURM_HISTORY``, ``UWS_SLURM_MAX_ARRAY_SIZE``.
        """

        def get(name: str) -> str | None:
            value = environ.get(f"UWS_SLURM_{name}")
            return value.strip() if value is not None and value.strip() else None

        kwargs: dict[str, object] = {}
        for field_name, env_name in (
            ("partition", "PARTITION"),
            ("account", "ACCOUNT"),
            ("qos", "QOS"),
            ("bin_prefix", "BIN"),
            ("slurm_conf", "CONF"),
            ("history_window", "HISTORY"),
        ):
            if (value := get(env_name)) is not None:
                kwargs[field_name] = value
        if (value := get("TIMEOUT")) is not None:
            kwargs["command_timeout"] = float(value)
        if (value := get("MAX_JOBS")) is not None:
            kwargs["max_jobs"] = int(value)
        if (value := get("MAX_ARRAY_SIZE")) is not None:
            kwargs["max_array_size"] = int(value)
        if (value := get("EXTRA_ARGS")) is not None:
            kwargs["extra_sbatch_args"] = tuple(shlex.split(value))
        if (value := get("EXPORT_ENV")) is not None:
            kwargs["export_env"] = tuple(n.strip() for n in value.split(",") if n.strip())
        for field_name, env_name in (("accounting", "ACCOUNTING"), ("json", "JSON")):
            if (value := get(env_name)) is not None:
                kwargs[field_name] = _tristate(f"UWS_SLURM_{env_name}", value)
        return cls(**kwargs)  # type: ignore[arg-type]
