"""The whole service on a real HTCondor pool, over HTTP (marker ``condor_pool``).

A live ``uws-server serve`` with ``UWS_EXECUTOR=htcondor`` runs as the test pool's submit
user, from its venv (see :mod:`tests.htcondor.pool`), and submits to the pool's schedd like
a deployment: each test drives a job over HTTP and checks what the pool did with it.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.htcondor.pool import (
    Pool,
    pool_server,
    pool_session,
    stop,
    user_process,
    wait_until_answering,
)
from tests.support import LiveServer, free_port, job_id_of
from uws_server.executors.htcondor import reasons

pytestmark = pytest.mark.condor_pool

FINAL = {"COMPLETED", "ERROR", "ABORTED"}
OCPS_COMMAND = "cd $JOB_SOURCE_DIR && bash bin/run.sh"
OCPS_SCRIPT = """#!/bin/bash
set -eu
printf '%s' "$IMAGE_TAG" > "$JOB_OUTPUT_DIR/out.txt"
echo "ran job $JOB_ID from $(git -C "$JOB_SOURCE_DIR" rev-parse --abbrev-ref HEAD)"
echo "in $(pwd -P)"
"""
#: A job type whose program deletes its own outputs/ directory: HTCondor cannot transfer it
#: back and holds the job (TransferOutputError).
LOSE_OUTPUTS = {
    "seedVersion": "1.0.0",
    "job": {
        "name": "loseoutputs",
        "jobVersion": "1.0.0",
        "packageVersion": "1.0.0",
        "title": "Lose outputs",
        "description": "Deletes its output directory, so that output transfer fails.",
        "maintainer": {"name": "uws-server developers", "email": "uws-server@example.org"},
        "timeout": 600,
        "resources": {"scalar": [{"name": "cpus", "value": 0.1}, {"name": "mem", "value": 64}]},
        "interface": {"command": "/bin/rm -rf ${OUTPUT_DIR}"},
    },
}


@pytest.fixture(scope="session")
def condor_pool():
    yield from pool_session()


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=x", "-c", "user.email=y", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def ocps_repo(condor_pool: Pool) -> Path:
    """A git repository under /tmp (the pool's jobs clone it), readable by the submit user."""
    path = condor_pool.directory("repo") / "scripts"
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "run.sh").write_text(OCPS_SCRIPT)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "scripts")
    condor_pool.give(path.parent)
    return path


@pytest.fixture(scope="module")
def server(condor_pool: Pool, ocps_repo: Path) -> Iterator[LiveServer]:
    """One live server for the module, with a test job type and the OCPS dialect allowed."""
    manifests = condor_pool.directory("jobtypes")
    (manifests / "loseoutputs.json").write_text(json.dumps(LOSE_OUTPUTS))
    condor_pool.give(manifests)
    with pool_server(condor_pool, "http", UWS_JOBTYPES_DIR=str(manifests),
                     UWS_OCPS_ALLOWED_COMMANDS=OCPS_COMMAND,
                     UWS_OCPS_ALLOWED_REPOS=f"file://{ocps_repo}") as live:
        yield live


def wait_final(server: LiveServer, job_url: str, timeout: float = 90) -> str:
    """Block until the job is final; show the server's log if it never gets there."""
    try:
        return server.wait_phase(job_url, FINAL, timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{server.log()[-4000:]}") from None


def job_json(job_url: str) -> dict:
    """The job as JSON."""
    response = requests.get(job_url, headers={"Accept": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def history_ad(pool: Pool, job_id: str, *attrs: str) -> list[list[str]]:
    """``condor_history`` rows (one per HTCondor job) of the UWS job ``job_id``."""
    done = pool.condor("condor_history", "-constraint", f'UwsJobId == "{job_id}"', "-af",
                       *attrs)
    assert done.returncode == 0, done.stderr
    return [line.split(" ", len(attrs) - 1) for line in done.stdout.splitlines() if line]


def test_echo_completes_with_its_result(server: LiveServer):
    job = server.create("echo", data={"message": "hello, pool", "PHASE": "RUN"})
    assert wait_final(server, job) == "COMPLETED"
    assert requests.get(f"{job}/results/result", timeout=10).text == "hello, pool"
    assert job_json(job)["phase"] == "COMPLETED"


def test_abort_of_a_running_sleep(server: LiveServer, condor_pool: Pool):
    job = server.create("sleep", data={"seconds": "600", "PHASE": "RUN"})
    server.wait_phase(job, {"EXECUTING"}, timeout=60)
    answer = requests.post(f"{job}/phase", data={"PHASE": "ABORT"}, allow_redirects=False,
                           timeout=10)
    assert answer.status_code == 303
    assert wait_final(server, job, timeout=60) == "ABORTED"
    deadline = time.monotonic() + 30
    while not (rows := history_ad(condor_pool, job_id_of(job), "RemoveReason")):
        assert time.monotonic() < deadline, "the aborted job never reached the history"
        time.sleep(1)
    [[reason]] = rows
    assert reasons.is_service_abort(reason), reason


def test_execution_duration_is_enforced(server: LiveServer):
    job = server.create("sleep", data={"seconds": "600", "EXECUTIONDURATION": "3",
                                       "PHASE": "RUN"})
    started = time.monotonic()
    assert wait_final(server, job, timeout=90) == "ABORTED"
    assert time.monotonic() - started < 60
    assert requests.get(f"{job}/results/result", timeout=10).status_code == 404


def test_an_output_transfer_failure_is_an_error_with_the_hold_reason(
        server: LiveServer, condor_pool: Pool):
    # a system failure is retried max_tries times (3 by default): once is enough here
    patched = requests.patch(f"{server.url}/v6/job-types/loseoutputs/1.0.0/",
                             json={"max_tries": 1}, timeout=10)
    assert patched.status_code == 200, patched.text
    job = server.create("loseoutputs", data={"PHASE": "RUN"})
    assert wait_final(server, job) == "ERROR"
    document = job_json(job)
    message = json.dumps(document)
    assert "outputs" in message and "ransfer" in message, document
    # the held job does not stay in the queue: the service removed it, saying why
    deadline = time.monotonic() + 30
    while not (rows := history_ad(condor_pool, job_id_of(job), "RemoveReason")):
        assert time.monotonic() < deadline, "the held job was not removed"
        time.sleep(1)
    [[reason]] = rows
    assert reason.startswith(reasons.HOLD_CLEANUP_PREFIX), reason


def test_wordcount_uploads_its_input_to_the_job(server: LiveServer):
    text = "the quick brown fox\njumps over the lazy dog\n"
    response = requests.post(server.list_url("wordcount"), params={"PHASE": "RUN"},
                             files={"input": ("words.txt", text, "text/plain")},
                             allow_redirects=False, timeout=30)
    assert response.status_code == 303, response.text
    job = response.headers["Location"]
    assert wait_final(server, job) == "COMPLETED"
    assert "9" in requests.get(f"{job}/results/result", timeout=10).text


def test_an_ocps_job_clones_and_runs_on_the_pool(server: LiveServer, ocps_repo: Path):
    answer = requests.put(f"{server.url}/api/v1/job", timeout=30, json={
        "run_id": "7", "command": OCPS_COMMAND, "url": f"file://{ocps_repo}",
        "commit_ref": "main", "environment": [{"name": "IMAGE_TAG", "value": "w_2026_48"}]})
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["jobId"]
    job = f"{server.url}/api/v1/job/{job_id}"
    deadline = time.monotonic() + 90
    while (phase := requests.get(f"{job}/phase", timeout=10).json()) not in (
            "completed", "error", "aborted", "unknown"):
        assert time.monotonic() < deadline, f"{phase}\n{server.log()[-4000:]}"
        time.sleep(0.5)
    document = requests.get(job, timeout=10).json()
    assert phase == "completed", document
    [output] = document["results"]
    assert requests.get(output["uri"], timeout=10).text == "w_2026_48"
    stdout = requests.get(f"{server.url}/uws/ocps/{job_id}/results/stdout", timeout=10).text
    assert f"ran job {job_id} from main" in stdout
    # in transfer mode the job runs in its scratch directory, which an execution point of
    # a real pool has, never in the access point's job directory (--job-dir=${JOB_DIR})
    cwd = stdout.split("in ", 1)[1].strip()
    assert not cwd.startswith(str(server.data_dir)), stdout
    assert "/execute/" in cwd, stdout


def test_a_dispatcher_killed_between_submit_and_record_adopts_the_job(condor_pool: Pool):
    """The web tier (gunicorn) and the dispatcher (``worker``) run apart, as in production.

    The first worker dies right after the schedd accepted the job and before the cluster id
    was written; the second finds the job by its token instead of submitting it again.
    """
    if condor_pool.pool_dir is None:
        pytest.skip("needs the test pool (scripts/condor-pool.sh)")
    data_dir = condor_pool.directory("crash")
    port = free_port()
    settings = {"UWS_EXECUTOR": "htcondor", "UWS_HTCONDOR_COLLECTOR": condor_pool.collector,
                "UWS_SERVICE_NAME": f"uws-pool-crash-{port}", "UWS_POLL_INTERVAL": "0.2",
                "UWS_PORT": str(port), "GUNICORN_WORKERS": "1", "GUNICORN_ACCESSLOG": ""}
    web = user_process(condor_pool, ["-m", "gunicorn", "-c", "python:uws_server.gunicorn_conf",
                                     "uws_server.wsgi:app"], data_dir, "web.log", **settings)
    worker = None
    try:
        base = f"http://127.0.0.1:{port}/uws"
        wait_until_answering(base, web, data_dir / "web.log")
        job = requests.post(f"{base}/echo", data={"message": "once", "PHASE": "RUN"},
                            allow_redirects=False, timeout=10).headers["Location"]
        job_id = job_id_of(job)
        crashing = user_process(condor_pool, [str(Path(__file__).parent / "crash_worker.py")],
                                data_dir, "crash.log", **settings)
        try:
            assert crashing.wait(90) == 17, (data_dir / "crash.log").read_text()
        finally:
            stop(crashing)
        assert "accepted as" in (data_dir / "crash.log").read_text()
        document = requests.get(job, headers={"Accept": "application/json"}, timeout=10).json()
        assert document["phase"] == "QUEUED", document
        worker = user_process(condor_pool, ["-m", "uws_server.cli", "worker"], data_dir,
                              "worker.log", **settings)
        deadline = time.monotonic() + 90
        while (phase := requests.get(f"{job}/phase", timeout=10).text) not in FINAL:
            assert time.monotonic() < deadline, (data_dir / "worker.log").read_text()[-4000:]
            requests.get(job, params={"WAIT": 5}, timeout=30)
        assert phase == "COMPLETED", (data_dir / "worker.log").read_text()[-4000:]
        assert requests.get(f"{job}/results/result", timeout=10).text == "once"
        assert "adopted backend job" in (data_dir / "worker.log").read_text()
        # one HTCondor job for the UWS job, in queue and history together, run once
        queued = condor_pool.condor("condor_q", "-allusers", "-constraint",
                                    f'UwsJobId == "{job_id}"', "-af", "ClusterId")
        deadline = time.monotonic() + 30
        while not (done := history_ad(condor_pool, job_id, "ClusterId", "NumJobStarts")):
            assert time.monotonic() < deadline, "the job never reached the history"
            time.sleep(1)
        assert len(done) + len(queued.stdout.split()) == 1, (done, queued.stdout)
        assert done[0][1] == "1", done
        history = requests.get(job, headers={"Accept": "application/json"}, timeout=10).json()
        assert history["phase"] == "COMPLETED"
    finally:
        stop(worker)
        stop(web)
