"""Jobs that fail: conformance items 15, 52, 65-68, pitfall P11."""

from __future__ import annotations

import pytest
import requests

from tests.support import NS, get_job_xml, uws_text


@pytest.fixture
def error_job(server, tmp_path):
    """A wordcount job on a non-UTF-8 file: exit code 3, the manifest's "Unreadable input"."""
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    with open(bad, "rb") as handle:
        job = server.create("wordcount", {"PHASE": "RUN"}, files={"input": handle})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "ERROR"
    return job


def test_a_failed_job_is_served_with_200_and_phase_error(error_job):
    response = requests.get(error_job, timeout=10)
    assert response.status_code == 200
    root = get_job_xml(error_job)
    assert uws_text(root, "phase") == "ERROR"
    assert requests.get(f"{error_job}/phase", timeout=10).text == "ERROR"
    assert uws_text(root, "endTime") is not None


def test_a_failed_job_has_a_valid_error_summary_from_the_manifest(error_job):
    summary = get_job_xml(error_job).find("uws:errorSummary", NS)
    assert summary is not None
    assert summary.get("type") in ("fatal", "transient")
    assert summary.get("type") == "fatal"  # a data error will not succeed when re-run
    assert summary.get("hasDetail") in ("true", "false")
    message = summary.find("uws:message", NS)
    assert message is not None
    assert "Unreadable input" in message.text


def test_the_error_resource_of_a_failed_job_is_200_text(error_job):
    summary = get_job_xml(error_job).find("uws:errorSummary", NS)
    response = requests.get(f"{error_job}/error", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "Unreadable input" in response.text
    if summary.get("hasDetail") == "true":
        assert "UTF-8" in response.text  # the program's own complaint (stderr)
        assert len(response.text) > len(summary.find("uws:message", NS).text)


def test_run_and_parameter_changes_on_an_error_job_are_403_and_abort_is_a_no_op(error_job):
    assert requests.post(f"{error_job}/phase", data={"PHASE": "RUN"}, allow_redirects=False,
                         timeout=10).status_code == 403
    response = requests.post(f"{error_job}/phase", data={"PHASE": "ABORT"},
                             allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert requests.get(f"{error_job}/phase", timeout=10).text == "ERROR"


def test_the_error_resource_of_a_completed_job_is_404(server):
    job = server.create("echo", {"message": "fine", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    assert get_job_xml(job).find("uws:errorSummary", NS) is None
    response = requests.get(f"{job}/error", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")


def test_the_error_resource_of_a_pending_job_is_404(server):
    job = server.create("echo", {"message": "not yet"})
    assert requests.get(f"{job}/error", timeout=10).status_code == 404


def test_an_aborted_job_explains_itself_in_the_error_summary(server):
    job = server.create("echo", {"message": "stop"})
    requests.post(f"{job}/phase", data={"PHASE": "ABORT"}, timeout=10)
    summary = get_job_xml(job).find("uws:errorSummary", NS)
    assert summary is not None
    assert summary.find("uws:message", NS).text
