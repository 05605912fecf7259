"""Webhooks of UWS jobs, end to end: a live server, a job that runs, a receiver that answers.

Issue 11: one delivery per subscribed event, signed; retried after a 500 (and the retry in
the job's history); a refused destination is a 400 at submission that writes nothing.
"""

from __future__ import annotations

import time
import uuid

import requests

from tests.support import assert_plain_error, job_dirs, job_id_of, list_job_ids
from tests.webhooks.conftest import SECRET
from tests.webhooks.history import delivery_states, notification_notes
from tests.webhooks.receiver import Receiver
from uws_server.dispatch import signing

ECHO_PHASES = ["QUEUED", "EXECUTING", "COMPLETED"]


def _path(name: str) -> str:
    """A receiver path of one test run (the receiver outlives each database's run)."""
    return f"/{name}-{uuid.uuid4().hex[:8]}"


def _settle(database_url: str, job_id: str, timeout: float = 20) -> list[tuple[str, str, int]]:
    """The job's deliveries once none is pending any more."""
    deadline = time.monotonic() + timeout
    states = delivery_states(database_url, job_id)
    while time.monotonic() < deadline:
        states = delivery_states(database_url, job_id)
        if states and all(state != "pending" for _, state, _ in states):
            return states
        time.sleep(0.1)
    raise AssertionError(f"deliveries still pending: {states}")


def test_every_phase_change_of_a_job_run_end_to_end_is_delivered_once_signed(
        hook_server, receiver: Receiver):
    path = _path("all")
    job = hook_server.create("echo", {"message": "hi", "PHASE": "RUN",
                                      "NOTIFICATION.URL": f"{receiver.url}{path}"})
    assert hook_server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    job_id = job_id_of(job)
    states = _settle(hook_server.database_url, job_id)
    assert [(event, state) for event, state, _ in states] == [
        (phase, "delivered") for phase in ECHO_PHASES]
    got = receiver.wait_for(path, 3)
    time.sleep(1)  # nothing more comes
    got = receiver.at(path)
    assert [r.json["event"] for r in got] == ECHO_PHASES
    assert len({r.headers["X-UWS-Delivery"] for r in got}) == 3
    for request in got:
        assert signing.verify(SECRET.encode(), request.headers["X-UWS-Signature"], request.body)
        assert not signing.verify(b"another secret", request.headers["X-UWS-Signature"],
                                  request.body)
        assert request.headers["Content-Type"] == "application/json"
    last = got[-1].json
    assert last["status"] == "FINISHED" and last["previousPhase"] == "EXECUTING"
    assert last["job"]["id"] == job_id and last["job"]["url"] == job
    assert last["job"]["jobType"] == "echo" and last["job"]["phase"] == "COMPLETED"
    assert last["job"]["startTime"] and last["job"]["endTime"]
    notes = notification_notes(hook_server.database_url, job_id)
    assert len(notes) == 3 and all("HTTP 200" in note for note in notes), notes


def test_a_subscription_to_one_event_that_is_not_persistent_fires_once(hook_server,
                                                                       receiver: Receiver):
    path = _path("done")
    job = hook_server.create("echo", {"message": "hi", "PHASE": "RUN",
                                      "notification.url": f"{receiver.url}{path}",
                                      "Notification.Event": "finished",
                                      "NOTIFICATION.PERSISTENT": "false"})
    assert hook_server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    states = _settle(hook_server.database_url, job_id_of(job))
    assert [(event, state) for event, state, _ in states] == [("COMPLETED", "delivered")]
    assert [r.json["status"] for r in receiver.wait_for(path, 1)] == ["FINISHED"]


def test_a_receiver_that_first_answers_500_gets_the_delivery_again_and_history_says_so(
        hook_server, receiver: Receiver):
    path = _path("flaky")
    receiver.answers[path] = [500]
    job = hook_server.create("echo", {"message": "hi", "PHASE": "RUN",
                                      "NOTIFICATION.URL": f"{receiver.url}{path}",
                                      "NOTIFICATION.EVENT": "COMPLETED"})
    assert hook_server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    job_id = job_id_of(job)
    states = _settle(hook_server.database_url, job_id)
    assert states == [("COMPLETED", "delivered", 2)]
    first, second = receiver.wait_for(path, 2)
    assert first.body == second.body
    assert first.headers["X-UWS-Delivery"] == second.headers["X-UWS-Delivery"]
    assert signing.verify(SECRET.encode(), second.headers["X-UWS-Signature"], second.body)
    notes = notification_notes(hook_server.database_url, job_id)
    assert len(notes) == 2, notes
    assert "HTTP 500" in notes[0] and "attempt 1" in notes[0] and "next attempt" in notes[0]
    assert "HTTP 200" in notes[1] and "attempt 2" in notes[1]


def test_a_refused_destination_is_a_400_at_submission_and_nothing_is_created(hook_server):
    before_jobs = list_job_ids(hook_server.list_url("echo"))
    before_dirs = job_dirs(hook_server.data_dir)
    for url in ("http://10.1.2.3/hook", "http://hooks.denied.example/x", "ftp://example.org/",
                "http://169.254.169.254/latest"):
        response = requests.post(hook_server.list_url("echo"),
                                 data={"message": "hi", "PHASE": "RUN", "NOTIFICATION.URL": url},
                                 allow_redirects=False, timeout=10)
        assert_plain_error(response, 400, "NOTIFICATION.URL")
    assert list_job_ids(hook_server.list_url("echo")) == before_jobs
    assert job_dirs(hook_server.data_dir) == before_dirs


def test_bad_notification_parameters_are_400s_naming_them(hook_server, receiver: Receiver):
    path = _path("never")
    url = f"{receiver.url}{path}"
    for data, name in (
            ({"NOTIFICATION.URL": url, "NOTIFICATION.EVENT": "SOMETIME"}, "NOTIFICATION.EVENT"),
            ({"NOTIFICATION.URL": url, "NOTIFICATION.PERSISTENT": "maybe"},
             "NOTIFICATION.PERSISTENT"),
            ({"NOTIFICATION.EVENT": "COMPLETED"}, "NOTIFICATION.URL"),
            ({"NOTIFICATION.COLOUR": "red"}, "NOTIFICATION.COLOUR")):
        response = requests.post(hook_server.list_url("echo"), data={"message": "hi", **data},
                                 allow_redirects=False, timeout=10)
        assert_plain_error(response, 400, name)
    job = hook_server.create("echo", {"message": "hi"})
    response = requests.post(job, data={"NOTIFICATION.URL": url}, allow_redirects=False,
                             timeout=10)
    assert_plain_error(response, 400, "NOTIFICATION.URL")
    assert receiver.at(path) == []
