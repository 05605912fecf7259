"""From a stored job to something a backend runs, and from its files back to results.

Pure of HTTP and of any backend: the dispatcher calls these around the
executor (inputs by URL are fetched by :mod:`.staging`). :func:`build_spec`
expands the command template into argv (never a shell);
:func:`collect_results` turns output files into result rows;
:func:`error_for_exit` maps an exit code through the manifest's ``errors``.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..executors.base import JobSpec, Resources
from ..jobtypes.seed import JobTypeInterface, build_argv
from ..models import Job, JobResult, JobType
from ..services.hardware import filesystem_env
from ..storage import JobStorage

log = logging.getLogger(__name__)

SEED_OUTPUTS_JSON = "seed.outputs.json"
#: Most bytes of ``seed.outputs.json`` read: the values land in the job's database row.
MAX_OUTPUTS_JSON = 1024 * 1024


def _resources(interface: JobTypeInterface, input_mib: float, job: Job) -> Resources:
    """The manifest's resources (scaled by input size), a batch job's own cpu and memory
    (``req_cpu``, ``req_memory_mib``) over them."""
    values = dict(interface.resources)
    for name, factor in interface.resource_multipliers.items():
        values[name] = values.get(name, 0.0) + factor * input_mib
    if job.req_cpu is not None:
        values["cpus"] = float(job.req_cpu)
    if job.req_memory_mib is not None:
        values["mem"] = float(job.req_memory_mib)
    gpus = values.get("gpus")
    return Resources(
        cpus=values.get("cpus"), mem_mib=values.get("mem"), disk_mib=values.get("disk"),
        gpus=int(gpus) if gpus is not None else None, shared_mem_mib=values.get("sharedMem"),
    )


def build_spec(
    storage: JobStorage, job: Job, job_type: JobType, interface: JobTypeInterface, *,
    service: str, filesystems: str = "",
) -> JobSpec:
    """The :class:`JobSpec` of a stored job: argv, environment, files and resources.

    ``filesystems`` is the operator's map (``UWS_FILESYSTEMS``): a batch job that asked
    for some gets each one's path as ``UWS_FS_<NAME>`` in its environment.
    """
    workdir = storage.job_dir(job.id).resolve()
    output_dir = workdir / "outputs"
    output_dir.mkdir(parents=True, exist_ok=True)
    variables: dict[str, list[str]] = {
        "OUTPUT_DIR": [str(output_dir)], "JOB_DIR": [str(workdir)], "JOB_ID": [job.id],
        "PYTHON": [sys.executable],
    }
    env: dict[str, str] = {"OUTPUT_DIR": str(output_dir), "JOB_DIR": str(workdir),
                           "JOB_ID": job.id, "UWS_JOB_ID": job.id}
    inputs: list[Path] = []
    input_bytes = 0
    for param in job.parameters:
        if param.is_file:
            path = storage.resolve(job.id, param.value)
            inputs.append(path)
            input_bytes += path.stat().st_size if path.exists() else 0
            variables.setdefault(param.name, []).append(str(path))
        else:
            variables.setdefault(param.name, []).append(param.value)
    for name, values in variables.items():
        if name not in ("PYTHON",) and name not in env:
            env[name] = " ".join(values)
    env.update(filesystem_env(job.filesystems, filesystems))
    secrets: set[str] = set()
    settings = (job_type.configuration or {}).get("settings") or {}
    for name, secret in interface.settings:
        if name in settings and settings[name] is not None:
            env[name] = str(settings[name])
            if secret:
                secrets.add(name)  # environment only: argv shows in process lists and logs
            else:
                variables.setdefault(name, [str(settings[name])])
    return JobSpec(
        job_id=job.id, job_type=job.job_type_name,
        argv=tuple(build_argv(interface.command, variables)), env=env, workdir=workdir,
        output_dir=output_dir, secret_env=frozenset(secrets), input_files=tuple(inputs),
        resources=_resources(interface, input_bytes / (1024 * 1024), job),
        execution_duration=job.execution_duration,
        image=job_type.docker_image or None, service=service,
    )


@dataclass(frozen=True)
class Collected:
    """What a finished job left behind."""

    results: list[JobResult]
    missing: list[str]  # required outputs that matched no file
    outputs_json: dict[str, Any]


def _media_type(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _regular_files(base: Path, pattern: str) -> list[Path]:
    """Regular files under ``base`` matching ``pattern``, reached through no symlink at all.

    A file behind a symlinked directory is skipped even when it stays inside
    the job's directory: results are served through
    :meth:`~uws_server.storage.JobStorage.open_file`, which follows no link.
    """
    root = base.resolve()
    found = []
    for path in sorted(base.glob(pattern)):
        if path.is_symlink() or not path.is_file():
            continue
        if path.resolve() == root / path.relative_to(base):
            found.append(path)
    return found


def collect_results(storage: JobStorage, job: Job, interface: JobTypeInterface) -> Collected:
    """Results from the output patterns, plus ``stdout`` and ``stderr``.

    Each output's first file gets the output's name as result id (so an
    output named ``result`` is the primary result pyvo fetches); further files
    get ``name-2``, ``name-3``... A job type without outputs has its standard
    output as primary result.
    """
    workdir = storage.job_dir(job.id)
    output_dir = workdir / "outputs"
    rows: list[JobResult] = []
    missing: list[str] = []
    taken: set[str] = set()

    def add(result_id: str, path: Path, mime: str | None) -> None:
        rows.append(JobResult(
            position=len(rows), result_id=result_id,
            path=str(path.relative_to(workdir)), mime_type=_media_type(path, mime),
            size=path.stat().st_size,
        ))
        taken.add(result_id)

    for output in interface.outputs:
        files = _regular_files(output_dir, output.pattern) if output_dir.is_dir() else []
        claimed = {(workdir / r.path).resolve() for r in rows}
        files = [f for f in files if f.resolve() not in claimed]
        if not files and output.required:
            missing.append(output.name)
        for index, path in enumerate(files if output.multiple else files[:1]):
            add(output.name if index == 0 else f"{output.name}-{index + 1}", path,
                output.media_type)
    for name in ("stdout", "stderr"):
        path = workdir / f"{name}.txt"
        if path.is_file() and not path.is_symlink():
            if not interface.outputs and name == "stdout" and "result" not in taken:
                add("result", path, "text/plain")
            elif name not in taken:
                add(name, path, "text/plain")
    outputs_json: dict[str, Any] = {}
    seed_json = output_dir / SEED_OUTPUTS_JSON
    if interface.output_json and seed_json.is_file() and not seed_json.is_symlink():
        try:
            with storage.open_file(job.id, f"outputs/{SEED_OUTPUTS_JSON}") as handle:
                data = json.loads(handle.read(MAX_OUTPUTS_JSON + 1)[:MAX_OUTPUTS_JSON])
            if isinstance(data, dict):
                outputs_json = {k: data[k] for k in interface.output_json if k in data}
        except (OSError, ValueError) as exc:  # UnsafePath is a ValueError
            log.warning("job %s: unreadable %s: %s", job.id, SEED_OUTPUTS_JSON, exc)
    return Collected(rows, missing, outputs_json)


def error_for_exit(interface: JobTypeInterface, exit_code: int | None,
                   reason: str | None) -> tuple[str, str, bool]:
    """``(type, message, system_failure)`` for a failed run, via the manifest's ``errors``.

    A manifest error of category ``system`` is transient (worth a retry);
    ``job`` and ``data`` errors are fatal.
    """
    for entry in interface.errors:
        if exit_code is not None and entry.get("code") == exit_code:
            title = entry.get("title") or entry.get("name") or f"exit code {exit_code}"
            detail = entry.get("description")
            message = f"{title}: {detail}" if detail else str(title)
            system = entry.get("category") == "system"
            return ("transient" if system else "fatal", message, system)
    return ("fatal", reason or (f"exit code {exit_code}" if exit_code is not None else
                                "the job failed"), False)


def tail(storage: JobStorage, job_id: str, name: str, limit: int = 64 * 1024) -> str:
    """The last ``limit`` bytes of a job's text file (``stderr.txt``), for ``/error``.

    Empty when the file is missing, unreadable, or not a regular file inside
    the job's directory (a job that left a symlink there gets nothing read).
    """
    try:
        return storage.read_tail(job_id, name, limit).decode("utf-8", "replace")
    except (OSError, ValueError):  # UnsafePath is a ValueError
        return ""
