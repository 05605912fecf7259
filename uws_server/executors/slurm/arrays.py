"""Large Slurm job arrays: the tasks listed in a manifest file, not in the comment.

A comment lists every task of an array (:func:`.script.encode_comment`), and
Slurm caps comments at 1024 characters: about twenty jobs. For bulk hand-overs
of thousands of jobs the executor writes instead, in its spool directory, one
*manifest* per array, line ``i`` naming task ``i``::

    <UWS job id> <token tag> <job directory>

and tags the array with the comment ``uws:<service>:@<manifest name>``. Each
task reads its line, goes into its job's directory, redirects its output there
and runs the job's own task file (:data:`TASK_FILE`: sources the environment
file and ``exec``-s the quoted argv, as a plain job's script does). So the
batch script is the same few lines for ten or ten thousand tasks, and no
client value ever reaches it. :meth:`.SlurmExecutor.find` and ``orphans`` read
the manifest back to map a task to its job.

Manifests never change once written; they are small (a line per job) and stay
until the operator's clean-up (they are needed as long as Slurm remembers the
array, for adoption after a crash).
"""

from __future__ import annotations

import os
import re
import shlex
import uuid
from collections.abc import Sequence
from pathlib import Path

from uws_server.executors.base import JobSpec
from uws_server.executors.slurm.script import (
    COMMENT_PREFIX,
    array_duration,
    check_spec,
    check_word,
    command_lines,
    duration_minutes,
    job_name,
    max_resources,
    resource_directives,
    sbatch_path,
    site_directives,
    token_tag,
    write_script,
)
from uws_server.executors.slurm.settings import SlurmSettings

#: The per-job file a manifest array's task runs (inside the job's directory).
TASK_FILE = ".uws-slurm-task.sh"
#: Manifest names are 32 hex digits (a uuid), followed by this suffix on disk.
MANIFEST_SUFFIX = ".tasks"
_NAME = re.compile(r"[0-9a-f]{32}\Z")


def manifest_comment(service: str, name: str) -> str:
    """The comment of a manifest array: ``uws:<service>:@<name>``."""
    check_word("service", service)
    return f"{COMMENT_PREFIX}:{service}:@{name}"


def manifest_name(comment: str | None, service: str) -> str | None:
    """The manifest a comment of this service names, or ``None`` (another form, or not ours)."""
    prefix = f"{COMMENT_PREFIX}:{service}:@"
    if not comment or not comment.startswith(prefix):
        return None
    name = comment[len(prefix):]
    return name if _NAME.match(name) else None


def manifest_path(spool: Path, name: str) -> Path:
    """Where manifest ``name`` lives in the spool directory."""
    return spool / f"{name}{MANIFEST_SUFFIX}"


def read_manifest(spool: Path, name: str) -> list[tuple[str, str]] | None:
    """The ``(job_id, tag)`` entries of a manifest in task order, ``None`` if unreadable."""
    try:
        text = manifest_path(spool, name).read_text(encoding="utf-8")
    except OSError:
        return None
    entries = []
    for line in text.splitlines():
        job_id, tag, _rest = [*line.split(" ", 2), "", ""][:3]
        entries.append((job_id, tag))
    return entries


def write_task_file(spec: JobSpec) -> Path:
    """The job's own command for an array task: source its environment, exec its argv."""
    path = spec.workdir / TASK_FILE
    text = "\n".join(["# uws-server array task: argv is exec-ed, never shell-interpreted.",
                      *command_lines(spec)]) + "\n"
    return write_script(path, text)


def write_manifest(spool: Path, specs: Sequence[JobSpec], tokens: Sequence[str]) -> str:
    """Write a new manifest for these jobs (task ``i`` = ``specs[i]``); its name."""
    spool.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    lines = []
    for spec, token in zip(specs, tokens, strict=True):
        check_word("job id", spec.job_id)
        sbatch_path(spec.workdir)  # absolute, no newline nor quote
        lines.append(f"{spec.job_id} {token_tag(token)} {spec.workdir}\n")
    partial = spool / f".{name}.part"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, manifest_path(spool, name))
    return name


def render_manifest_script(specs: Sequence[JobSpec], spool: Path, name: str,
                           settings: SlurmSettings) -> str:
    """The batch script of a manifest array of ``len(specs)`` tasks."""
    for spec in specs:
        check_spec(spec)
    first = specs[0]
    manifest = shlex.quote(str(manifest_path(spool, name)))
    options = [
        f"--job-name={job_name(first, f'array{len(specs)}')}",
        f"--comment={manifest_comment(first.service, name)}",
        f"--array=0-{len(specs) - 1}",
        f"--chdir={sbatch_path(spool)}",
        "--output=/dev/null",
        "--error=/dev/null",
        "--no-requeue",
    ]
    if (duration := array_duration(specs)) > 0:
        options.append(f"--time={duration_minutes(duration)}")
    options += resource_directives(max_resources(specs)) + site_directives(settings)
    out, err = shlex.quote(first.stdout_path.name), shlex.quote(first.stderr_path.name)
    lines = ["#!/bin/sh", *(f"#SBATCH {option}" for option in options)]
    lines += [
        "# uws-server job array: task i runs the job on line i+1 of the manifest.",
        "set -e",
        'line=$((${SLURM_ARRAY_TASK_ID:?} + 1))',
        f'dir=$(sed -n "${{line}}s/^[^ ]* [^ ]* //p" {manifest})',
        'if [ -z "$dir" ]; then',
        '    echo "uws-server: no such array task: $SLURM_ARRAY_TASK_ID" >&2',
        "    exit 2",
        "fi",
        'cd "$dir"',
        f"exec >{out} 2>{err}",
        f"exec /bin/sh ./{TASK_FILE}",
    ]
    return "\n".join(lines) + "\n"


def compress_ids(backend_ids: Sequence[str]) -> list[str]:
    """Backend ids for one scancel: the tasks of each array as ``<id>_[a-b,c]``."""
    plain: list[str] = []
    tasks: dict[str, list[int]] = {}
    for backend_id in backend_ids:
        array, sep, task = backend_id.partition("_")
        if sep and array.isdigit() and task.isdigit():
            tasks.setdefault(array, []).append(int(task))
        elif backend_id not in plain:
            plain.append(backend_id)
    for array, numbers in tasks.items():
        ranges: list[str] = []
        ordered = sorted(set(numbers))
        start = previous = ordered[0]
        for number in [*ordered[1:], None]:
            if number is not None and number == previous + 1:
                previous = number
                continue
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
            if number is not None:
                start = previous = number
        plain.append(f"{array}_{ordered[0]}" if len(ordered) == 1
                     else f"{array}_[{','.join(ranges)}]")
    return plain
