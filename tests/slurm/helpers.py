"""Shared helpers of the Slurm executor tests (spec factory, poll loop)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from uws_server.executors.base import (
    BackendState,
    BackendStatus,
    Executor,
    JobHandle,
    JobSpec,
    Resources,
)

FINAL = {
    BackendState.COMPLETED,
    BackendState.FAILED,
    BackendState.CANCELLED,
    BackendState.TIMED_OUT,
}

#: Values a client could send that a shell would interpret if ever given a chance.
EVIL_VALUES = (
    "$(touch {pwned})",
    "`touch {pwned}`",
    "; touch {pwned}; rm -rf x",
    "| touch {pwned}",
    "a'b\"c\\d",
    "line1\nline2; touch {pwned}",
    "with  two spaces",
    "-leading-dash",
    "--output=/etc/passwd",
    "$HOME ${PATH} %j %%",
    "*",
    "",
)


def evil_values(pwned: Path) -> tuple[str, ...]:
    """The evil values, each naming ``pwned`` as the file an injection would create."""
    return tuple(value.replace("{pwned}", str(pwned)) for value in EVIL_VALUES)


def new_job_id() -> str:
    """A fresh UWS-like job id (hex)."""
    return uuid.uuid4().hex


def make_spec(
    root: Path,
    argv: Sequence[str],
    *,
    job_id: str | None = None,
    env: Mapping[str, str] | None = None,
    secret_env: frozenset[str] = frozenset(),
    duration: int = 0,
    service: str = "uws-test",
    resources: Resources | None = None,
) -> JobSpec:
    """A JobSpec with its workdir and output dir created under ``root``."""
    job_id = job_id or new_job_id()
    workdir = root / job_id
    output_dir = workdir / "outputs"
    output_dir.mkdir(parents=True)
    full_env = {"OUTPUT_DIR": str(output_dir), "JOB_ID": job_id, **(env or {})}
    return JobSpec(
        job_id=job_id,
        job_type="test-type",
        argv=tuple(argv),
        env=full_env,
        workdir=workdir,
        output_dir=output_dir,
        secret_env=secret_env,
        execution_duration=duration,
        service=service,
        resources=resources or Resources(),
    )


def wait_for(
    executor: Executor,
    job_id: str,
    handle: JobHandle,
    states: set[BackendState] = FINAL,
    timeout: float = 60.0,
) -> BackendStatus:
    """Poll until the job reaches one of ``states``; fail with the last status if not."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = executor.poll({job_id: handle})[job_id]
        if status.state in states:
            return status
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {status} after {timeout} s")
