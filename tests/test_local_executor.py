"""The local executor with real processes: restarts, aborts, durations, no shell."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.local.executor import LocalExecutor
from uws_server.identity import ANONYMOUS
from uws_server.models import DispatcherLease
from uws_server.wiring import Components, bootstrap, build_components


@pytest.fixture
def parts(tmp_path: Path) -> Components:
    settings = Settings(data_dir=tmp_path / "data",
                        database_url=f"sqlite:///{tmp_path / 'uws.sqlite3'}", poll_interval=0.05)
    bootstrap(settings)
    components = build_components(settings)
    yield components
    components.bus.close()


def _dispatcher(parts: Components) -> Dispatcher:
    """A dispatcher with a fresh local executor, as after a restart of the service."""
    with parts.db.write() as session:
        lease = session.get(DispatcherLease, 1)
        if lease is not None:
            session.delete(lease)
    return Dispatcher(parts, LocalExecutor(parts.settings.jobs_dir, 2))


def _run_until(dispatcher: Dispatcher, parts: Components, jobtype: str, job_id: str,
               phases: set[str], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dispatcher.tick()
        phase = parts.jobs.get(ANONYMOUS, jobtype, job_id).phase
        if phase in phases:
            return phase
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {phase}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"


def test_job_running_across_a_restart_is_adopted_and_runs_only_once(parts):
    job = parts.jobs.create(ANONYMOUS, "sleep", [("seconds", "1.5"), ("PHASE", "RUN")], {})
    first = _dispatcher(parts)
    _run_until(first, parts, "sleep", job.id, {"EXECUTING"})
    del first  # the service dies; the job's supervisor keeps running on its own
    second = _dispatcher(parts)
    assert _run_until(second, parts, "sleep", job.id, {"COMPLETED", "ERROR"}) == "COMPLETED"
    stdout = (parts.storage.job_dir(job.id) / "stdout.txt").read_text()
    assert stdout.count("sleeping") == 1


def test_abort_kills_the_whole_process_group(parts):
    job = parts.jobs.create(ANONYMOUS, "sleep", [("seconds", "60"), ("PHASE", "RUN")], {})
    dispatcher = _dispatcher(parts)
    _run_until(dispatcher, parts, "sleep", job.id, {"EXECUTING"})
    runner = json.loads((parts.storage.job_dir(job.id) / ".runner.json").read_text())
    pid = int(runner["backend_id"].split(":")[0])
    assert _alive(pid)
    parts.jobs.abort(ANONYMOUS, "sleep", job.id)
    dispatcher.tick()
    time.sleep(0.3)
    assert not _alive(pid)
    assert parts.jobs.get(ANONYMOUS, "sleep", job.id).phase == "ABORTED"


def test_exceeded_execution_duration_aborts_the_job_with_a_reason(parts):
    job = parts.jobs.create(
        ANONYMOUS, "sleep", [("seconds", "30"), ("EXECUTIONDURATION", "1"), ("PHASE", "RUN")], {})
    dispatcher = _dispatcher(parts)
    started = time.monotonic()
    assert _run_until(dispatcher, parts, "sleep", job.id, {"ABORTED", "COMPLETED"}) == "ABORTED"
    assert time.monotonic() - started < 10
    done = parts.jobs.get(ANONYMOUS, "sleep", job.id)
    assert "execution duration of 1 s exceeded" in done.error_message


@pytest.mark.parametrize("message", [
    "$(touch {marker})", "`touch {marker}`", "; touch {marker}", "a b  c", "-n", "'\"\\",
    "line1\nline2",
])
def test_client_values_reach_the_program_verbatim_and_no_shell_runs(parts, tmp_path, message):
    marker = tmp_path / "pwned"
    text = message.format(marker=marker)
    job = parts.jobs.create(ANONYMOUS, "echo", [("message", text), ("PHASE", "RUN")], {})
    dispatcher = _dispatcher(parts)
    assert _run_until(dispatcher, parts, "echo", job.id, {"COMPLETED", "ERROR"}) == "COMPLETED"
    result = parts.storage.job_dir(job.id) / "outputs" / "result.txt"
    assert result.read_text() == text
    assert not marker.exists()


def test_job_environment_does_not_inherit_the_services_secrets(parts, monkeypatch):
    monkeypatch.setenv("UWS_DATABASE_URL", "postgresql://user:secret@db/uws")
    executor = LocalExecutor(parts.settings.jobs_dir, 1)
    from uws_server.executors.local.executor import environment_for

    job = parts.jobs.create(ANONYMOUS, "echo", [("message", "x")], {})
    from uws_server.executors.base import JobSpec

    spec = JobSpec(job_id=job.id, job_type="echo", argv=("true",), env={"A": "1"},
                   workdir=parts.storage.job_dir(job.id), output_dir=parts.storage.job_dir(job.id))
    env = environment_for(spec)
    assert "UWS_DATABASE_URL" not in env
    assert env["A"] == "1"
    assert executor.free_slots() == 1


def test_missing_program_ends_the_job_in_error_with_the_reason(parts, tmp_path):
    executor = LocalExecutor(parts.settings.jobs_dir, 1)
    from uws_server.executors.base import BackendState, JobHandle, JobSpec

    job = parts.jobs.create(ANONYMOUS, "echo", [("message", "x")], {})
    workdir = parts.storage.job_dir(job.id)
    spec = JobSpec(job_id=job.id, job_type="echo", argv=("/nonexistent/program", "x"), env={},
                   workdir=workdir, output_dir=workdir / "outputs")
    submission = executor.submit(spec, "token")
    handle = JobHandle(submission.backend_id, workdir)
    deadline = time.monotonic() + 10
    while (status := executor.poll({job.id: handle})[job.id]).state is BackendState.EXECUTING:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status.state is BackendState.FAILED
    assert status.exit_code == 127
    assert "cannot start" in status.reason
    assert executor.find(job.id, "token") == submission.backend_id
    assert executor.find(job.id, "other-token") is None
