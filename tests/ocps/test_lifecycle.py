"""Jobs that fail, fail to clone, or are deleted while they run."""

from __future__ import annotations

import os
import time

import requests

from tests.ocps.conftest import COMMAND, FAIL_COMMAND, SLOW_COMMAND
from tests.ocps.helpers import api, get_job, poll, put_job
from tests.support import assert_json_detail as assert_detail


def _put(server, repo, command, **extra):
    body = {"run_id": "42", "command": command, "url": repo.url, "commit_ref": "main",
            "environment": [{"name": "IMAGE_TAG", "value": "t"}], **extra}
    created = put_job(server, body)
    assert created.status_code == 200, created.text
    return created.json()["jobId"]


def test_failing_script(ocps_server, repo):
    job_id = _put(ocps_server, repo, FAIL_COMMAND)
    final = poll(ocps_server, job_id, "42")
    assert final["phase"] == "error", final
    assert "3" in final["errorSummary"]["message"], final
    error = requests.get(f"{api(ocps_server)}/job/{job_id}/error", timeout=30)
    assert "the pipeline broke" in error.json()
    assert job_id in [j["jobId"] for j in requests.get(
        f"{api(ocps_server)}/job", params={"phase": "error"}, timeout=30).json()]


def test_clone_failure(ocps_server, repo):
    job_id = _put(ocps_server, repo, COMMAND, commit_ref="no-such-branch")
    final = poll(ocps_server, job_id, "42")
    assert final["phase"] == "error", final
    error = requests.get(f"{api(ocps_server)}/job/{job_id}/error", timeout=30).json()
    assert "cannot check out no-such-branch" in error, error
    uws_error = requests.get(f"{ocps_server.url}/uws/ocps/{job_id}/error", timeout=30).text
    assert "cannot check out no-such-branch" in uws_error


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is as good as dead
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_delete_running_job(ocps_server, repo):
    job_id = _put(ocps_server, repo, SLOW_COMMAND)
    pid_file = ocps_server.data_dir / "jobs" / job_id / "outputs" / "pid"
    deadline = time.monotonic() + 30
    while not (pid_file.is_file() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, ocps_server.log()[-3000:]
        time.sleep(0.2)
    pid = int(pid_file.read_text())
    assert get_job(ocps_server, job_id).json()["phase"] == "executing"
    assert _alive(pid)

    deleted = requests.delete(f"{api(ocps_server)}/job/{job_id}", timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["phase"] == "aborted"
    assert_detail(get_job(ocps_server, job_id), 404)
    deadline = time.monotonic() + 20
    while _alive(pid):
        assert time.monotonic() < deadline, "the job's process was not killed"
        time.sleep(0.2)
    deadline = time.monotonic() + 20
    while (ocps_server.data_dir / "jobs" / job_id).exists():
        assert time.monotonic() < deadline, "the job's files stayed"
        time.sleep(0.2)
