"""Single-value resources as text/plain: conformance items 18-23, 1, 60, 61, 63."""

from __future__ import annotations

import re

import requests

from tests.support import TIME_RE, get_job_xml, uws_text


def _text(url):
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, (url, response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("text/plain"), url
    return response.text


def test_single_value_resources_are_text_plain(server):
    job = server.create("echo", {"message": "plain"})
    for child in ("phase", "executionduration", "destruction", "quote", "owner"):
        _text(f"{job}/{child}")


def test_phase_resource_equals_the_phase_element_without_a_newline(server):
    job = server.create("echo", {"message": "phase"})
    assert _text(f"{job}/phase") == "PENDING"
    assert uws_text(get_job_xml(job), "phase") == "PENDING"
    requests.post(f"{job}/phase", data={"PHASE": "RUN"}, timeout=10)
    server.wait_phase(job, {"COMPLETED"})
    assert _text(f"{job}/phase") == "COMPLETED" == uws_text(get_job_xml(job), "phase")


def test_execution_duration_resource_is_an_integer_equal_to_the_document(server):
    job = server.create("echo", {"message": "dur"})
    text = _text(f"{job}/executionduration")
    assert re.fullmatch(r"\d+", text)
    assert text == uws_text(get_job_xml(job), "executionDuration")


def test_destruction_resource_is_a_z_instant_equal_to_the_document(server):
    job = server.create("echo", {"message": "destruction"})
    text = _text(f"{job}/destruction")
    assert re.fullmatch(TIME_RE, text)
    assert text == uws_text(get_job_xml(job), "destruction")


def test_quote_resource_is_empty_when_the_quote_is_nil_never_minus_one(server):
    job = server.create("echo", {"message": "quote"})
    root = get_job_xml(job)
    text = _text(f"{job}/quote")
    if uws_text(root, "quote") is None:
        assert text == ""
    else:
        assert re.fullmatch(TIME_RE, text)
    assert text != "-1"


def test_owner_resource_is_empty_for_an_anonymous_job(server):
    job = server.create("echo", {"message": "owner"})
    assert uws_text(get_job_xml(job), "ownerId") is None
    assert _text(f"{job}/owner") == ""


def test_single_value_resources_ignore_wait(server):
    """Item 36: blocking applies to the job resource only."""
    job = server.create("echo", {"message": "no wait"})
    response = requests.get(f"{job}/phase", params={"WAIT": 10}, timeout=10)
    assert response.text == "PENDING"
    assert response.elapsed.total_seconds() < 2


def test_single_value_resources_stay_text_when_json_is_accepted(server):
    job = server.create("echo", {"message": "json"})
    response = requests.get(f"{job}/phase", headers={"Accept": "application/json"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(("text/plain", "application/json"))
    assert "PENDING" in response.text
