"""Issue 15 item 16: ``url`` and ``commit_ref`` are optional, ``""`` meaning "no repository".

The original OCPS server clones only when it is given a URL; a command the
operator allows runs without a clone, in an empty ``$JOB_SOURCE_DIR``.
"""

from __future__ import annotations

import pytest
import requests

from tests.ocps.conftest import NO_CLONE_COMMAND
from tests.ocps.helpers import poll, put_job
from tests.support import assert_json_detail


def _outputs(job: dict[str, object]) -> dict[str, str]:
    """The job's result files by name (the ids are output, output-2...; the uri ends in n)."""
    texts = {}
    for result in job["results"]:  # type: ignore[union-attr]
        response = requests.get(result["uri"], timeout=30)
        assert response.status_code == 200, response.text
        name = response.headers["Content-Disposition"].rsplit("=", 1)[-1].strip('"')
        texts[name] = response.text
    return texts


@pytest.mark.parametrize("source", [
    {},
    {"url": "", "commit_ref": ""},
    {"url": None, "commit_ref": None},
    {"url": ""},
], ids=["absent", "empty", "null", "empty-url-only"])
def test_a_command_only_job_runs_without_a_clone(ocps_server, source):
    body = {"run_id": "7", "command": NO_CLONE_COMMAND,
            "environment": [{"name": "IMAGE_TAG", "value": "no-repo"}], **source}
    created = put_job(ocps_server, body)
    assert created.status_code == 200, created.text
    final = poll(ocps_server, created.json()["jobId"], "7")
    assert final["phase"] == "completed", (final, ocps_server.log()[-2000:])
    outputs = _outputs(final)
    assert outputs["out.txt"] == "no-repo"
    assert outputs["src.txt"] == ""  # $JOB_SOURCE_DIR exists and is empty: nothing was cloned
    assert outputs["git.txt"] == "[][]"


def test_commands_only_service_runs_command_only_jobs_and_refuses_repositories(
        commands_only_server, repo):
    """An operator who allows commands but no repository: no clone is ever allowed."""
    created = put_job(commands_only_server, {"command": NO_CLONE_COMMAND, "environment": [
        {"name": "IMAGE_TAG", "value": "t"}]})
    assert created.status_code == 200, created.text
    assert poll(commands_only_server, created.json()["jobId"])["phase"] == "completed"
    refused = put_job(commands_only_server, {"command": NO_CLONE_COMMAND, "url": repo.url})
    assert_json_detail(refused, 403, "url", "UWS_OCPS_ALLOWED_REPOS")


def test_uws_front_door_takes_a_command_only_job(ocps_server):
    response = requests.post(f"{ocps_server.url}/uws/ocps",
                             data={"command": NO_CLONE_COMMAND, "PHASE": "RUN"},
                             allow_redirects=False, timeout=30)
    assert response.status_code == 303, response.text
    job_url = response.headers["Location"]
    assert ocps_server.wait_phase(job_url, {"COMPLETED", "ERROR"}) == "COMPLETED"
    # a commit_ref needs a repository to be checked out of: refused on a parameter change too
    pending = requests.post(f"{ocps_server.url}/uws/ocps", data={"command": NO_CLONE_COMMAND},
                            allow_redirects=False, timeout=30)
    changed = requests.post(pending.headers["Location"], data={"commit_ref": "main"},
                            allow_redirects=False, timeout=30)
    assert changed.status_code == 400 and "commit_ref" in changed.text, changed.text
    for url in (job_url, pending.headers["Location"]):
        requests.delete(url, allow_redirects=False, timeout=30)
