"""The ARCHIVED alternative to destruction (server with UWS_DESTRUCTION_POLICY=archive):
conformance items 8, 38, 45, 56, 59."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.support import NS, get_job_xml, job_id_of, list_job_ids, uws_text


@pytest.fixture(scope="module")
def archived_jobs(limited_server):
    """Two completed echo jobs whose destruction time passed, so they are ARCHIVED."""
    jobs = []
    for n in range(2):
        job = limited_server.create("echo", {"message": "keep my metadata", "PHASE": "RUN",
                                             "RUNID": f"archived {n}"})
        assert limited_server.wait_phase(job, {"COMPLETED"}) == "COMPLETED"
        jobs.append(job)
    soon = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for job in jobs:
        response = requests.post(f"{job}/destruction", data={"DESTRUCTION": soon},
                                 allow_redirects=False, timeout=10)
        assert response.status_code == 303
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        if all(requests.get(f"{job}/phase", timeout=10).text == "ARCHIVED" for job in jobs):
            return jobs
        time.sleep(0.3)
    raise AssertionError(f"{jobs} never became ARCHIVED")


@pytest.fixture
def archived_job(archived_jobs):
    """An ARCHIVED job that stays (the other one is for the deletion test)."""
    return archived_jobs[0]


def test_an_archived_job_keeps_its_metadata_but_not_its_results(limited_server, archived_job):
    root = get_job_xml(archived_job)
    assert uws_text(root, "phase") == "ARCHIVED"
    assert uws_text(root, "runId") == "archived 0"
    assert uws_text(root, "creationTime") and uws_text(root, "endTime")
    assert [p.text for p in root.iterfind("uws:parameters/uws:parameter", NS)] == [
        "keep my metadata"]
    assert len(root.find("uws:results", NS)) == 0
    assert requests.get(f"{archived_job}/results/result", timeout=10).status_code == 404
    outputs = limited_server.data_dir / "jobs" / job_id_of(archived_job) / "outputs"
    assert not outputs.exists() or not any(outputs.iterdir())


def test_archived_jobs_are_listed_only_when_asked_for(limited_server, archived_job):
    job_id = job_id_of(archived_job)
    list_url = limited_server.list_url("echo")
    assert job_id not in list_job_ids(list_url)
    assert job_id not in list_job_ids(list_url, PHASE="COMPLETED")
    assert job_id in list_job_ids(list_url, PHASE="ARCHIVED")
    assert job_id in list_job_ids(list_url + "?PHASE=ARCHIVED&PHASE=COMPLETED")


def test_an_archived_job_cannot_change_any_more(archived_job):
    for child, data in (("phase", {"PHASE": "RUN"}), ("phase", {"PHASE": "ABORT"}),
                        ("destruction", {"DESTRUCTION": "2100-01-01T00:00:00Z"}),
                        ("executionduration", {"EXECUTIONDURATION": "10"}),
                        ("parameters", {"message": "x"})):
        response = requests.post(f"{archived_job}/{child}", data=data, allow_redirects=False,
                                 timeout=10)
        assert response.status_code == 403, (child, response.text)
        assert response.headers["Content-Type"].startswith("text/plain")
    assert requests.get(f"{archived_job}/phase", timeout=10).text == "ARCHIVED"


def test_wait_returns_immediately_on_an_archived_job(archived_job):
    started = time.monotonic()
    root = get_job_xml(archived_job, WAIT=30)
    assert uws_text(root, "phase") == "ARCHIVED"
    assert time.monotonic() - started < 1.5


def test_an_archived_job_can_still_be_deleted(archived_jobs):
    doomed = archived_jobs[1]
    response = requests.delete(doomed, allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert requests.get(doomed, timeout=10).status_code == 404
