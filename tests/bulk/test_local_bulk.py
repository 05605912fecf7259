"""Bulk hand-over to the local executor, and its slots counted in cores."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bulk.kit import (
    FINAL,
    backend_ids,
    phases,
    queue_echo_jobs,
    register_cores_type,
    tick_until,
)
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.base import ExecutorError, JobSpec, Resources
from uws_server.executors.local.executor import LocalExecutor
from uws_server.identity import ANONYMOUS
from uws_server.wiring import Components, bootstrap, build_components


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Components]:
    settings = Settings(data_dir=tmp_path / "data",
                        database_url=f"sqlite:///{tmp_path / 'uws.sqlite3'}", poll_interval=0.05)
    bootstrap(settings)
    components = build_components(settings)
    yield components
    components.bus.close()


def _dispatcher(parts: Components, cores: int) -> tuple[Dispatcher, LocalExecutor]:
    executor = LocalExecutor(parts.settings.jobs_dir, cores)
    return Dispatcher(parts, executor), executor


def test_echo_jobs_queued_together_all_run_to_completed_in_slices_on_the_local_executor(
        parts, caplog):
    # 300 here: the 1,000-job local sweep is tests/batches/test_sweep_runs.py (through HTTP)
    job_ids = queue_echo_jobs(parts, 300)
    dispatcher, _executor = _dispatcher(parts, 16)
    with caplog.at_level(logging.INFO, logger="uws_server.dispatch.bulk"):
        assert tick_until(dispatcher.tick,
                          lambda: all(p in FINAL for p in phases(parts, job_ids).values()),
                          timeout=600, step=0.05)
    assert set(phases(parts, job_ids).values()) == {"COMPLETED"}
    bulk = [r.getMessage() for r in caplog.records if "in bulk" in r.getMessage()]
    assert bulk, "the jobs were handed over one by one"
    assert sum(int(line.split()[0]) for line in bulk) >= 270  # nearly all went in slices
    for index in (0, 149, 299):
        result = parts.storage.job_dir(job_ids[index]) / "outputs" / "result.txt"
        assert result.read_text() == f"m{index}"


def test_a_two_core_job_takes_two_slots_of_the_pool(parts, tmp_path):
    register_cores_type(parts, tmp_path / "types", "twocores", 2)
    dispatcher, executor = _dispatcher(parts, 4)
    jobs = [parts.jobs.create(ANONYMOUS, "twocores", [("seconds", "30"), ("PHASE", "RUN")], {}).id
            for _ in range(3)]
    try:
        dispatcher.tick()
        started = {j for j, b in backend_ids(parts, jobs).items() if b is not None}
        assert len(started) == 2  # 2 jobs x 2 cores fill the 4 slots; the third waits
        assert executor.free_slots() == 0
        assert phases(parts, [j for j in jobs if j not in started]) == {
            j: "QUEUED" for j in jobs if j not in started}
        parts.jobs.abort(ANONYMOUS, "twocores", next(iter(started)))
        assert tick_until(dispatcher.tick, lambda: all(backend_ids(parts, jobs).values()), 30)
        assert executor.free_slots() == 0  # the waiting one took the two freed slots
    finally:
        for job_id in jobs:
            parts.jobs.abort(ANONYMOUS, "twocores", job_id)
        dispatcher.tick()


def test_a_one_core_job_fills_the_slot_a_two_core_job_leaves(parts, tmp_path):
    register_cores_type(parts, tmp_path / "types", "twocores", 2)
    dispatcher, executor = _dispatcher(parts, 3)
    big = parts.jobs.create(ANONYMOUS, "twocores", [("seconds", "30"), ("PHASE", "RUN")], {}).id
    small = parts.jobs.create(ANONYMOUS, "sleep", [("seconds", "30"), ("PHASE", "RUN")], {}).id
    try:
        dispatcher.tick()
        assert all(backend_ids(parts, [big, small]).values())
        assert executor.free_slots() == 0
    finally:
        parts.jobs.abort(ANONYMOUS, "twocores", big)
        parts.jobs.abort(ANONYMOUS, "sleep", small)
        dispatcher.tick()


def test_a_job_asking_more_cores_than_the_pool_has_ends_in_error_saying_so(parts, tmp_path):
    register_cores_type(parts, tmp_path / "types", "fivecores", 5)
    dispatcher, executor = _dispatcher(parts, 4)
    job_id = parts.jobs.create(ANONYMOUS, "fivecores", [("seconds", "1"), ("PHASE", "RUN")],
                               {}).id
    dispatcher.tick()
    job = parts.jobs.get(ANONYMOUS, "fivecores", job_id)
    assert job.phase == "ERROR"
    assert "asks for 5 cores" in (job.error_message or "")
    assert "4 slots" in (job.error_message or "")
    assert executor.free_slots() == 4


def test_the_local_executor_refuses_an_oversized_job_permanently(tmp_path):
    executor = LocalExecutor(tmp_path, 2)
    workdir = tmp_path / "job"
    workdir.mkdir()
    spec = JobSpec(job_id="a" * 32, job_type="t", argv=("true",), env={}, workdir=workdir,
                   output_dir=workdir, resources=Resources(cpus=3))
    with pytest.raises(ExecutorError) as refused:
        executor.submit(spec, "token")
    assert not refused.value.transient
    assert executor.slots_needed(JobSpec(**{**spec.__dict__, "resources": Resources(cpus=1.5)}
                                         )) == 2
