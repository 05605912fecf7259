"""The OCPS CSC's request sequence, replayed exactly, and the read-only resources."""

from __future__ import annotations

import requests

from tests.ocps.conftest import COMMAND
from tests.ocps.helpers import NO_ACCEPT, TIME_RE, api, get_job, poll, put_job
from tests.support import assert_json_detail as assert_detail

IMAGE_TAG = "w_2024_10 with spaces & 'quotes'"


def csc_body(repo_url: str, run_id: str = "42", **extra: object) -> dict[str, object]:
    """What the CSC sends (with an IMAGE_TAG worth quoting)."""
    body: dict[str, object] = {
        "run_id": run_id, "command": COMMAND, "url": repo_url, "commit_ref": "main",
        "environment": [{"name": "IMAGE_TAG", "value": IMAGE_TAG},
                        {"name": "PIPELINE_URL", "value": "$PIPELINE/path.yaml"},
                        {"name": "BUTLER_REPO", "value": "/repo/main"},
                        {"name": "RUN_OPTIONS", "value": "-j 4 --register-dataset-types"},
                        {"name": "OUTPUT_GLOB", "value": "*.txt"},
                        {"name": "DATA_QUERY", "value": "instrument='LATISS' AND exposure=1"}],
    }
    body.update(extra)
    return body


def test_csc_sequence(ocps_server, repo):
    body = csc_body(repo.url)
    created = put_job(ocps_server, body)
    assert 200 <= created.status_code < 300, created.text
    job = created.json()
    job_id = job["jobId"]
    assert job["runId"] == "42"
    assert job["phase"] in {"queued", "executing", "completed"}
    assert job["parameters"] == {"command": COMMAND, "environment": body["environment"]}

    final = poll(ocps_server, job_id, "42")
    assert final["phase"] == "completed", final
    assert set(final) >= {"jobId", "runId", "ownerId", "phase", "creationTime", "startTime",
                          "endTime", "executionDuration", "destruction", "parameters",
                          "results", "errorSummary", "jobInfo"}
    for key in ("creationTime", "startTime", "endTime", "destruction"):
        assert TIME_RE.match(final[key]), (key, final[key])
    assert final["errorSummary"] == {"message": ""}
    results = final["results"]
    assert [r["id"] for r in results] == ["output", "output-2"]
    assert [r["uri"] for r in results] == [f"{api(ocps_server)}/job/result/{job_id}/{n}"
                                           for n in range(2)]

    first = requests.get(f"{api(ocps_server)}/job/result/{job_id}/0", headers=NO_ACCEPT,
                         timeout=30)
    assert first.status_code == 200 and first.text == IMAGE_TAG
    env = dict(line.split("=", 1) for line in
               requests.get(results[1]["uri"], timeout=30).text.splitlines() if "=" in line)
    data_dir = str(ocps_server.data_dir.resolve())
    assert env["JOB_ID"] == job_id
    assert env["JOB_SOURCE_DIR"] == f"{data_dir}/jobs/{job_id}/src"
    assert env["JOB_OUTPUT_DIR"] == f"{data_dir}/jobs/{job_id}/outputs"
    assert env["SRC_GIT_URL"] == repo.url and env["GIT_COMMIT_REF"] == "main"
    assert env["PIPELINE_URL"] == "$PIPELINE/path.yaml"  # not expanded
    assert env["DATA_QUERY"] == "instrument='LATISS' AND exposure=1"
    leaked = {k for k in env if k.startswith("UWS_")} - {"UWS_JOB_ID", "UWS_SUBMIT_TOKEN"}
    assert not leaked, f"the service's settings leaked: {leaked}"
    assert "command" not in env and "environment" not in env
    gone = requests.get(f"{api(ocps_server)}/job/result/{job_id}/2", timeout=30)
    assert_detail(gone, 404, "result 2")

    assert requests.get(f"{api(ocps_server)}/job/{job_id}/phase", timeout=30).json() \
        == "completed"
    assert requests.get(f"{api(ocps_server)}/job/{job_id}/results", timeout=30).json() == results
    assert requests.get(f"{api(ocps_server)}/job/{job_id}/parameters", timeout=30).json() \
        == final["parameters"]
    listed = requests.get(f"{api(ocps_server)}/job", params={"phase": "completed"}, timeout=30)
    assert job_id in [j["jobId"] for j in listed.json()]
    running = requests.get(f"{api(ocps_server)}/job", params={"phase": "executing"}, timeout=30)
    assert job_id not in [j["jobId"] for j in running.json()]
    # the same job through the UWS front door
    uws = requests.get(f"{ocps_server.url}/uws/ocps/{job_id}/phase", timeout=30)
    assert uws.text == "COMPLETED"

    deleted = requests.delete(f"{api(ocps_server)}/job/{job_id}", headers=NO_ACCEPT, timeout=30)
    assert 200 <= deleted.status_code < 300, deleted.text
    assert deleted.json()["jobId"] == job_id and deleted.json()["phase"] == "completed"
    assert_detail(get_job(ocps_server, job_id), 404, job_id)
    assert_detail(requests.delete(f"{api(ocps_server)}/job/{job_id}", timeout=30), 404)


def test_run_id_all_digits_and_other_branch(ocps_server, repo):
    created = put_job(ocps_server, csc_body(repo.url, run_id="007", commit_ref="other"))
    assert created.status_code == 200, created.text
    job_id = created.json()["jobId"]
    assert created.json()["runId"] == "007"
    final = poll(ocps_server, job_id, "007")
    assert final["phase"] == "completed", final
    out = requests.get(f"{api(ocps_server)}/job/result/{job_id}/0", timeout=30)
    assert out.text == f"other:{IMAGE_TAG}"


def test_replicas(ocps_server, repo):
    created = put_job(ocps_server, csc_body(repo.url, run_id="9", replicas=2))
    assert created.status_code == 200, created.text
    ids = created.json()["jobIds"]
    assert len(set(ids)) == 2 and ids[0] == created.json()["jobId"]
    for job_id in ids:
        assert poll(ocps_server, job_id, "9")["phase"] == "completed"


def test_unknown_job_and_route(ocps_server):
    assert_detail(get_job(ocps_server, "0" * 32), 404)
    assert_detail(requests.get(f"{api(ocps_server)}/job/nope/phase", timeout=30), 404)
    assert_detail(requests.post(f"{api(ocps_server)}/job", json={}, timeout=30), 405)
    assert_detail(requests.get(f"{api(ocps_server)}/job", params={"phase": "bogus"},
                               timeout=30), 400, "phase")
