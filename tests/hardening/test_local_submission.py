"""Issue 15 item 1: a kill -9 of the dispatcher during a local submission never runs a job twice.

Each test queues one ``append`` job (its program appends a line to
``runs.log`` in its job directory), starts a real ``uws-server worker`` that
SIGKILLs itself at one point of the submission, then a normal worker, and
counts the runs. Before the fix, a kill right after the supervisor started
(before ``.runner.json`` existed) made the next worker submit again: two runs.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.hardening.dispatch_kit import (
    APPEND_CODE,
    runs,
    start_worker,
    stop,
    wait_until,
    worker_env,
    write_manifests,
)
from tests.slurm.helpers import make_spec
from uws_server.executors.local.executor import LocalExecutor
from uws_server.executors.local.runner import EXIT_NOT_RECORDED
from uws_server.identity import ANONYMOUS
from uws_server.jobtypes import service as jobtypes
from uws_server.models import Job
from uws_server.wiring import Components

FINAL = {"COMPLETED", "ERROR", "ABORTED"}


def _register(parts: Components, tmp_path: Path) -> Path:
    manifests = write_manifests(tmp_path / "manifests")
    with parts.db.write() as session:
        jobtypes.load_directory(session, manifests)
    return manifests


def _job(parts: Components, job_id: str) -> Job:
    with parts.db.read() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


@pytest.mark.parametrize("point", ["after-start", "after-record", "after-submit"])
def test_a_kill_9_at_any_point_of_a_local_submission_runs_the_job_exactly_once(
        components, tmp_path, point):
    manifests = _register(components, tmp_path)
    job = components.jobs.create(ANONYMOUS, "append", [("seconds", "0"), ("PHASE", "RUN")], {})
    env = worker_env(components.settings.data_dir, components.settings.effective_database_url,
                     manifests)
    log = tmp_path / "workers.log"
    crasher = start_worker(env, log, crash_at=point)
    assert crasher.wait(60) == -signal.SIGKILL, log.read_text()
    worker = start_worker(env, log)
    try:
        assert wait_until(lambda: _job(components, job.id).phase in FINAL, 60), log.read_text()
    finally:
        stop(worker)
    done = _job(components, job.id)
    job_dir = components.storage.job_dir(job.id)
    assert done.phase == "COMPLETED", (done.phase, done.error_message)
    assert runs(job_dir) == 1, (job_dir / "runs.log").read_text()
    if point != "after-start":  # recorded before the crash: adopted, never resubmitted
        assert done.tries == 1


def test_a_supervisor_its_record_does_not_name_runs_nothing(components, tmp_path):
    """The runner's side of "record first": no record naming it, no job (and no output)."""
    _register(components, tmp_path)
    job = components.jobs.create(ANONYMOUS, "append", [("seconds", "0")], {})
    job_dir = components.storage.job_dir(job.id)
    executor = LocalExecutor(components.settings.jobs_dir, 1)
    import subprocess
    import sys

    record = job_dir / ".runner.json"
    record.write_text(json.dumps({"backend_id": "1:0", "token": "someone else's"}))
    child = subprocess.Popen(
        [sys.executable, "-m", "uws_server.executors.local.runner", str(record),
         str(job_dir / ".exit.json"), "--", sys.executable, "-c",
         "open('runs.log', 'a').write('ran\\n')"],
        cwd=job_dir, stdin=subprocess.PIPE)
    child.stdin.close()  # as if the executor had died before writing its record
    assert child.wait(30) == EXIT_NOT_RECORDED
    assert runs(job_dir) == 0
    assert not (job_dir / ".exit.json").exists()
    assert executor.find(job.id, "any token") is None


def test_a_stale_submission_of_a_job_returns_the_successors_run_alive_or_finished(tmp_path):
    """What a dispatcher paused past its lease inside ``submit`` does once resumed after its
    successor submitted the same job (200 SIGSTOP trials ran 6 jobs twice before this):
    whether that run still goes on or is over, it is not started again; a retry (a later
    attempt) is."""
    spec = make_spec(tmp_path, [sys.executable, "-c", APPEND_CODE, "2"])
    spec.env["JOB_DIR"] = str(spec.workdir)  # type: ignore[index]
    successor, stale = LocalExecutor(tmp_path, 2), LocalExecutor(tmp_path, 2)
    try:
        running = successor.submit(replace(spec, attempt=2), "successor-token").backend_id
        assert wait_until(lambda: runs(spec.workdir) == 1, 10)
        assert stale.submit(replace(spec, attempt=1), "stale-token").backend_id == running
        assert stale._children == {}
        assert successor.find(spec.job_id, "successor-token") == running  # record intact
        assert successor._children[spec.job_id].wait(20) == 0  # the run is over
        assert stale.submit(replace(spec, attempt=1), "stale-token").backend_id == running
        assert runs(spec.workdir) == 1
        assert (spec.workdir / ".exit.json").is_file()  # the finished run's status kept
        retry = stale.submit(replace(spec, attempt=3), "retry-token").backend_id
        assert retry != running
        assert wait_until(lambda: runs(spec.workdir) == 2, 10)
    finally:
        successor.close()
        stale.close()
