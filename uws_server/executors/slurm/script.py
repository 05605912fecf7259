"""Batch scripts for Slurm, generated so that no client value meets a shell.

Each argv element is quoted with :func:`shlex.quote` and ``exec``-ed, so the
shell only ever sees single-quoted words. The job environment, secrets
included, is written to a mode-0600 file in the job's workdir that the script
sources; the script Slurm stores therefore holds no value of ``spec.env``.

Every backend job carries a comment ``uws:<service>:<job_id>:<tag>[,...]``:
one ``<job_id>:<tag>`` entry per job (one for a plain job, one per array task
in task order), ``<tag>`` being a digest of the submission token. That is
what :meth:`SlurmExecutor.find` and :meth:`SlurmExecutor.orphans` search for.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from uws_server.executors.base import ExecutorError, JobSpec, Resources
from uws_server.executors.slurm.settings import SlurmSettings

#: Slurm refuses job comments longer than this (``ESLURM_PATHNAME_TOO_LONG``).
MAX_COMMENT = 1024
COMMENT_PREFIX = "uws"
ENV_FILE = ".uws-slurm-env.sh"
SCRIPT_FILE = "slurm.sbatch"
ARRAY_SCRIPT_FILE = "slurm-array.sbatch"

_SAFE_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _bad(message: str) -> ExecutorError:
    return ExecutorError(message, transient=False)


def token_tag(token: str) -> str:
    """A short digest of a submission token, kept in the job comment.

    The digest keeps comments short (Slurm caps them at 1024 characters,
    and an array's comment lists every task) while telling submissions apart.
    """
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def encode_comment(service: str, entries: Sequence[tuple[str, str]]) -> str:
    """The comment tagging a backend job with its UWS ``(job_id, token)`` pairs."""
    check_word("service", service)
    parts = []
    for job_id, token in entries:
        check_word("job id", job_id)
        parts.append(f"{job_id}:{token_tag(token)}")
    return f"{COMMENT_PREFIX}:{service}:{','.join(parts)}"


def decode_comment(comment: str | None, service: str) -> list[tuple[str, str]] | None:
    """The ``(job_id, tag)`` entries of one of this service's comments, else ``None``."""
    prefix = f"{COMMENT_PREFIX}:{service}:"
    if not comment or not comment.startswith(prefix):
        return None
    entries = []
    for part in comment[len(prefix) :].split(","):
        job_id, sep, tag = part.partition(":")
        if not sep or not job_id or not tag:
            return None
        entries.append((job_id, tag))
    return entries


def check_word(what: str, value: str) -> None:
    """Refuse identifiers that could break a directive or a comment."""
    if not _SAFE_WORD.match(value):
        raise _bad(f"{what} {value!r} is not a safe word ([A-Za-z0-9_.-])")


def sbatch_path(path: Path) -> str:
    """A path as an ``#SBATCH`` option value: double-quoted, ``%`` escaped.

    sbatch reads ``#SBATCH`` values with its own tokenizer (double quotes group
    words) and expands ``%j``-style patterns in file names, hence ``%%``.
    """
    text = str(path)
    if not os.path.isabs(text) or any(c in text for c in '"\\\n\r\0'):
        raise _bad(f"path {text!r} is not usable in a batch script")
    return '"' + text.replace("%", "%%") + '"'


def duration_minutes(seconds: int) -> int:
    """Slurm's time limit (whole minutes, rounded up) for ``seconds`` > 0."""
    return max(1, math.ceil(seconds / 60))


def resource_directives(resources: Resources) -> list[str]:
    """``#SBATCH`` options for a resource request (shared memory is not mapped)."""
    options = []
    if resources.cpus:
        options.append(f"--cpus-per-task={math.ceil(resources.cpus)}")
    if resources.mem_mib:
        options.append(f"--mem={math.ceil(resources.mem_mib)}M")
    if resources.disk_mib:
        options.append(f"--tmp={math.ceil(resources.disk_mib)}M")
    if resources.gpus:
        options.append(f"--gres=gpu:{int(resources.gpus)}")
    return options


def site_directives(settings: SlurmSettings) -> list[str]:
    """Partition, account, QoS and extra options from the settings."""
    options = []
    for flag, value in (
        ("--partition", settings.partition),
        ("--account", settings.account),
        ("--qos", settings.qos),
    ):
        if value:
            options.append(f"{flag}={value}")
    options.extend(settings.extra_sbatch_args)
    return options


def job_name(spec: JobSpec, suffix: str) -> str:
    """A readable job name: ``uws-<job type>-<suffix>``, shell- and Slurm-safe."""
    kind = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.job_type)[:48] or "job"
    return f"uws-{kind}-{suffix}"


def check_spec(spec: JobSpec) -> None:
    """Refuse a spec whose argv, environment or paths cannot be run safely."""
    check_word("job id", spec.job_id)
    if spec.image is not None:
        raise _bad("the Slurm executor does not run container images")
    if not spec.argv:
        raise _bad("empty argv")
    if any("\0" in arg for arg in spec.argv):
        raise _bad("argv element contains a NUL byte")
    for name, value in spec.env.items():
        if not _ENV_NAME.match(name):
            raise _bad(f"environment variable name {name!r} is not a shell identifier")
        if "\0" in value:
            raise _bad(f"environment variable {name} contains a NUL byte")
    for path in (spec.workdir, spec.stdout_path, spec.stderr_path):
        sbatch_path(path)


def write_env_file(spec: JobSpec) -> Path:
    """Write the job's environment as ``export NAME='value'`` lines, mode 0600.

    The file, not the batch script, carries the values: Slurm keeps batch
    scripts in its state and shows them to operators; secrets must not be there.
    """
    path = spec.workdir / ENV_FILE
    lines = [f"export {name}={shlex.quote(value)}\n" for name, value in spec.env.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.writelines(lines)
    return path


def command_lines(spec: JobSpec) -> list[str]:
    """Source the environment file, then ``exec`` the quoted argv."""
    env_file = shlex.quote(str(spec.workdir / ENV_FILE))
    return [f". {env_file}", "exec " + " ".join(shlex.quote(arg) for arg in spec.argv)]


def _header(options: Sequence[str]) -> list[str]:
    lines = ["#!/bin/sh"]
    lines.extend(f"#SBATCH {option}" for option in options)
    return lines


def render_script(spec: JobSpec, token: str, settings: SlurmSettings) -> str:
    """The batch script of one job."""
    check_spec(spec)
    options = [
        f"--job-name={job_name(spec, spec.job_id)}",
        f"--comment={encode_comment(spec.service, [(spec.job_id, token)])}",
        f"--chdir={sbatch_path(spec.workdir)}",
        f"--output={sbatch_path(spec.stdout_path)}",
        f"--error={sbatch_path(spec.stderr_path)}",
        "--no-requeue",
    ]
    if spec.execution_duration > 0:
        options.append(f"--time={duration_minutes(spec.execution_duration)}")
    options += resource_directives(spec.resources) + site_directives(settings)
    lines = _header(options)
    lines.append(f"# uws-server job {spec.job_id}: argv is exec-ed, never shell-interpreted.")
    lines.append("set -e")
    lines += command_lines(spec)
    return "\n".join(lines) + "\n"


def max_resources(specs: Sequence[JobSpec]) -> Resources:
    def biggest(values: list[float | int | None]) -> float | int | None:
        present = [v for v in values if v]
        return max(present) if present else None

    return Resources(
        cpus=biggest([s.resources.cpus for s in specs]),
        mem_mib=biggest([s.resources.mem_mib for s in specs]),
        disk_mib=biggest([s.resources.disk_mib for s in specs]),
        gpus=biggest([s.resources.gpus for s in specs]),  # type: ignore[arg-type]
    )


def array_duration(specs: Sequence[JobSpec]) -> int:
    """The array's common limit: the longest one, or 0 if any is unlimited."""
    durations = [s.execution_duration for s in specs]
    return 0 if 0 in durations else max(durations)


def array_chdir(specs: Sequence[JobSpec]) -> Path:
    """Where the array starts: the workdirs' common parent (each task ``cd``-s on)."""
    return Path(os.path.commonpath([str(s.workdir.parent) for s in specs]))


def render_array_script(
    specs: Sequence[JobSpec], tokens: Sequence[str], settings: SlurmSettings
) -> str:
    """One batch script for a job array, task ``i`` running ``specs[i]``.

    Each task redirects its own output into its own workdir before doing
    anything else; the array-level Slurm output goes to ``/dev/null`` so that
    no job's messages land in another job's directory.
    """
    for spec in specs:
        check_spec(spec)
    first = specs[0]
    pairs = [(s.job_id, t) for s, t in zip(specs, tokens, strict=True)]
    comment = encode_comment(first.service, pairs)
    if len(comment) > MAX_COMMENT:
        raise _bad(f"array comment longer than {MAX_COMMENT} characters")
    options = [
        f"--job-name={job_name(first, f'array{len(specs)}')}",
        f"--comment={comment}",
        f"--array=0-{len(specs) - 1}",
        f"--chdir={sbatch_path(array_chdir(specs))}",
        "--output=/dev/null",
        "--error=/dev/null",
        "--no-requeue",
    ]
    if (duration := array_duration(specs)) > 0:
        options.append(f"--time={duration_minutes(duration)}")
    options += resource_directives(max_resources(specs)) + site_directives(settings)
    lines = _header(options)
    lines += ["# uws-server job array: argv is exec-ed, never shell-interpreted.", "set -e"]
    lines.append('case "${SLURM_ARRAY_TASK_ID:-}" in')
    for index, spec in enumerate(specs):
        out = shlex.quote(str(spec.stdout_path))
        err = shlex.quote(str(spec.stderr_path))
        lines.append(f"{index})")
        lines.append(f"    exec >{out} 2>{err}")
        lines.append(f"    cd {shlex.quote(str(spec.workdir))}")
        lines.extend(f"    {line}" for line in command_lines(spec))
        lines.append("    ;;")
    lines.append("*)")
    lines.append('    echo "uws-server: no such array task: ${SLURM_ARRAY_TASK_ID:-}" >&2')
    lines.append("    exit 2")
    lines.append("    ;;")
    lines.append("esac")
    return "\n".join(lines) + "\n"


def write_script(path: Path, text: str) -> Path:
    """Write a batch script (it holds no secret, but stays private to the service)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
