"""Shared fixtures of the HTCondor backend tests: job specs, a fake schedd, an executor."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.htcondor.fake_schedd import FakeSchedd
from uws_server.executors.base import JobHandle, JobSpec, Resources
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings


class Clock:
    """A monotonic clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_spec(root: Path, job_id: str = "a1b2c3", **changes) -> JobSpec:
    """A job spec with its directories created, as the dispatcher prepares them."""
    workdir = root / job_id
    (workdir / "outputs").mkdir(parents=True, exist_ok=True)
    (workdir / "inputs").mkdir(exist_ok=True)
    (workdir / "inputs" / "data.txt").write_text("42\n")
    values = dict(
        job_id=job_id,
        job_type="echo",
        argv=("/bin/echo", "hello world"),
        env={"OUTPUT_DIR": str(workdir / "outputs"), "JOB_ID": job_id},
        workdir=workdir,
        output_dir=workdir / "outputs",
        input_files=(workdir / "inputs" / "data.txt",),
        resources=Resources(cpus=1, mem_mib=256, disk_mib=100),
        execution_duration=600,
        service="uws-test",
    )
    values.update(changes)
    return JobSpec(**values)


@pytest.fixture
def spec_factory(tmp_path):
    def factory(job_id: str = "a1b2c3", **changes) -> JobSpec:
        return make_spec(tmp_path, job_id, **changes)

    return factory


@pytest.fixture
def fake():
    return FakeSchedd()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def executor(fake, clock):
    ex = HTCondorExecutor(
        HTCondorSettings(max_retries=2), service="uws-test", schedd=fake, clock=clock
    )
    yield ex
    ex.close()


def handle_for(spec: JobSpec, backend_id: str, cursor: str | None = None) -> JobHandle:
    """The handle the dispatcher would keep for a submitted job."""
    return JobHandle(backend_id=backend_id, workdir=spec.workdir, cursor=cursor)
