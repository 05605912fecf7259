"""Requests that change state: conformance items 24-35, 51, 52, 57, 59, 69, 78, pitfalls P1,
P9, P25."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import requests

from tests.support import NS, TIME_RE, get_job_xml, job_id_of, list_job_ids, uws_text

ACCEPTED_AFTER_RUN = {"QUEUED", "EXECUTING", "COMPLETED", "ERROR", "HELD"}


def _post(url, data, **kwargs):
    return requests.post(url, data=data, allow_redirects=False, timeout=10, **kwargs)


def _assert_see_other(response, location):
    """A state change answers 303 (never 302, P1) to an absolute URL, with a tiny body."""
    assert response.status_code == 303, (response.status_code, response.text)
    assert response.headers["Location"] == location
    assert len(response.content) < 200


def test_phase_run_answers_303_to_the_job_and_leaves_pending_at_once(server):
    job = server.create("echo", {"message": "run"})
    _assert_see_other(_post(f"{job}/phase", {"PHASE": "RUN"}), job)
    # P9: never PENDING again after RUN, even before the dispatcher saw it
    assert requests.get(f"{job}/phase", timeout=10).text in ACCEPTED_AFTER_RUN
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"


def test_a_successful_job_goes_through_queued_executing_completed(server):
    job = server.create("echo", {"message": "path"})
    seen = ["PENDING"]
    _post(f"{job}/phase", {"PHASE": "RUN"})
    deadline = time.monotonic() + 30
    while seen[-1] != "COMPLETED" and time.monotonic() < deadline:
        phase = uws_text(get_job_xml(job, WAIT=5), "phase")
        if phase != seen[-1]:
            seen.append(phase)
    assert seen[-1] == "COMPLETED"
    order = ["PENDING", "QUEUED", "EXECUTING", "COMPLETED"]
    assert [order.index(p) for p in seen] == sorted(order.index(p) for p in seen)
    root = get_job_xml(job)
    assert uws_text(root, "startTime") is not None and uws_text(root, "endTime") is not None


def test_run_is_idempotent_while_the_job_is_going(server, cleanup):
    job = server.create("sleep", {"seconds": "30", "PHASE": "RUN"})
    cleanup.append(job)
    _assert_see_other(_post(f"{job}/phase", {"PHASE": "RUN"}), job)
    assert requests.get(f"{job}/phase", timeout=10).text in {"QUEUED", "EXECUTING"}
    _assert_see_other(_post(f"{job}/phase", {"PHASE": "ABORT"}), job)


def test_abort_stops_a_running_job_keeps_its_results_and_kills_the_process(server, cleanup):
    job = server.create("sleep", {"seconds": "60", "PHASE": "RUN"})
    cleanup.append(job)
    server.wait_phase(job, {"EXECUTING"})
    job_dir = server.data_dir / "jobs" / job_id_of(job)
    assert (job_dir / ".runner.json").is_file()
    started = time.monotonic()
    _assert_see_other(_post(f"{job}/phase", {"PHASE": "ABORT"}), job)
    assert requests.get(f"{job}/phase", timeout=10).text == "ABORTED"
    assert time.monotonic() - started < 5
    root = get_job_xml(job)
    assert uws_text(root, "endTime") is not None
    # the resources stay: results listed (the logs so far) and each fetchable
    results = root.findall("uws:results/uws:result", NS)
    deadline = time.monotonic() + 10
    while not results and time.monotonic() < deadline:
        time.sleep(0.2)
        results = get_job_xml(job).findall("uws:results/uws:result", NS)
    assert results
    for result in results:
        assert requests.get(result.get(f"{{{NS['xlink']}}}href"), timeout=10).status_code == 200
    # the process was killed, so its supervisor never wrote an exit status; give the
    # dispatcher a moment and check it never appears
    time.sleep(1)
    assert not (job_dir / ".exit.json").exists()
    assert requests.get(f"{job}/phase", timeout=10).text == "ABORTED"


def test_abort_of_a_finished_job_is_a_no_op_303(server):
    job = server.create("echo", {"message": "fin", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    before = get_job_xml(job)
    _assert_see_other(_post(f"{job}/phase", {"PHASE": "ABORT"}), job)
    after = get_job_xml(job)
    assert uws_text(after, "phase") == "COMPLETED"
    assert uws_text(after, "endTime") == uws_text(before, "endTime")
    assert after.find("uws:errorSummary", NS) is None


def test_abort_twice_is_a_no_op_the_second_time(server):
    job = server.create("echo", {"message": "twice"})
    _assert_see_other(_post(f"{job}/phase", {"PHASE": "ABORT"}), job)
    assert requests.get(f"{job}/phase", timeout=10).text == "ABORTED"
    _assert_see_other(_post(f"{job}/phase", {"PHASE": "ABORT"}), job)
    assert requests.get(f"{job}/phase", timeout=10).text == "ABORTED"


def test_abort_of_a_pending_job_makes_it_aborted(server):
    job = server.create("echo", {"message": "pending abort"})
    _assert_see_other(_post(f"{job}/phase", {"PHASE": "ABORT"}), job)
    root = get_job_xml(job)
    assert uws_text(root, "phase") == "ABORTED"
    assert uws_text(root, "startTime") is None


def test_run_on_a_completed_job_is_403(server):
    job = server.create("echo", {"message": "done", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    response = _post(f"{job}/phase", {"PHASE": "RUN"})
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/plain")
    assert requests.get(f"{job}/phase", timeout=10).text == "COMPLETED"


def test_run_on_an_aborted_job_is_403(server):
    job = server.create("echo", {"message": "aborted"})
    _post(f"{job}/phase", {"PHASE": "ABORT"})
    assert _post(f"{job}/phase", {"PHASE": "RUN"}).status_code == 403


def test_phase_values_other_than_run_and_abort_are_400(server):
    job = server.create("echo", {"message": "suspend"})
    for value in ("SUSPEND", "ARCHIVE", "HOLD", "COMPLETED", ""):
        response = _post(f"{job}/phase", {"PHASE": value})
        assert response.status_code == 400, value
        assert "PHASE" in response.text
    assert requests.get(f"{job}/phase", timeout=10).text == "PENDING"


def test_phase_name_and_value_are_case_insensitive(server):
    job = server.create("echo", {"message": "case"})
    _assert_see_other(_post(f"{job}/phase", {"phase": "run"}), job)
    assert requests.get(f"{job}/phase", timeout=10).text != "PENDING"
    other = server.create("echo", {"message": "case 2"})
    _assert_see_other(_post(f"{other}/phase", {"Phase": "Abort"}), other)
    assert requests.get(f"{other}/phase", timeout=10).text == "ABORTED"


def test_phase_abort_posted_to_the_job_url_aborts(server):
    """Item 35: uws-client's ``job abort`` posts to the job URL."""
    job = server.create("echo", {"message": "uws-client"})
    _assert_see_other(_post(job, {"PHASE": "ABORT"}), job)
    assert requests.get(f"{job}/phase", timeout=10).text == "ABORTED"


def test_phase_run_posted_to_the_job_url_runs(server):
    job = server.create("echo", {"message": "uws-client run"})
    _assert_see_other(_post(job, {"PHASE": "RUN"}), job)
    assert requests.get(f"{job}/phase", timeout=10).text != "PENDING"


def test_destruction_post_answers_303_and_is_read_back(server):
    job = server.create("echo", {"message": "destroy later"})
    wanted = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    _assert_see_other(_post(f"{job}/destruction",
                            {"DESTRUCTION": wanted.strftime("%Y-%m-%dT%H:%M:%SZ")}), job)
    text = requests.get(f"{job}/destruction", timeout=10).text
    assert re.fullmatch(TIME_RE, text)
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == wanted
    assert uws_text(get_job_xml(job), "destruction") == text


def test_destruction_accepts_pyvo_microseconds_and_a_naive_time(server):
    job = server.create("echo", {"message": "pyvo destruction"})
    when = datetime.now(UTC) + timedelta(days=1)
    for text in (when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), when.strftime("%Y-%m-%dT%H:%M:%S")):
        _assert_see_other(_post(f"{job}/destruction", {"DESTRUCTION": text}), job)
        got = datetime.fromisoformat(
            requests.get(f"{job}/destruction", timeout=10).text.replace("Z", "+00:00"))
        assert abs(got - when) < timedelta(seconds=1)


def test_a_destruction_beyond_the_limit_is_clamped_and_shown(server):
    """Items 30, P25: substitute a value, answer 303, show the value actually set."""
    job = server.create("echo", {"message": "far"})
    _assert_see_other(_post(f"{job}/destruction", {"DESTRUCTION": "2999-01-01T00:00:00Z"}), job)
    text = requests.get(f"{job}/destruction", timeout=10).text
    assert re.fullmatch(TIME_RE, text)
    assert text < "2999"


def test_execution_duration_post_answers_303_and_is_read_back(server):
    job = server.create("echo", {"message": "duration"})
    _assert_see_other(_post(f"{job}/executionduration", {"EXECUTIONDURATION": "60"}), job)
    assert requests.get(f"{job}/executionduration", timeout=10).text == "60"
    assert uws_text(get_job_xml(job), "executionDuration") == "60"


def test_execution_duration_as_a_float_is_accepted_and_rounded(server):
    """pyvo posts ``str(value)``: ``120.0``."""
    job = server.create("echo", {"message": "float"})
    _assert_see_other(_post(f"{job}/executionduration", {"EXECUTIONDURATION": "120.0"}), job)
    assert requests.get(f"{job}/executionduration", timeout=10).text == "120"
    _assert_see_other(_post(f"{job}/executionduration", {"EXECUTIONDURATION": "30.6"}), job)
    assert requests.get(f"{job}/executionduration", timeout=10).text == "31"


def test_a_huge_execution_duration_is_clamped_and_shown(server):
    job = server.create("echo", {"message": "huge"})
    _assert_see_other(_post(f"{job}/executionduration",
                            {"EXECUTIONDURATION": str(10**9)}), job)
    value = int(requests.get(f"{job}/executionduration", timeout=10).text)
    assert 0 < value < 10**9


def test_execution_duration_zero_means_unlimited_or_the_maximum(server):
    job = server.create("echo", {"message": "zero"})
    _assert_see_other(_post(f"{job}/executionduration", {"EXECUTIONDURATION": "0"}), job)
    assert int(requests.get(f"{job}/executionduration", timeout=10).text) >= 0


def test_execution_duration_at_creation_is_honoured(server):
    job = server.create("echo", {"message": "c", "EXECUTIONDURATION": "45"})
    assert uws_text(get_job_xml(job), "executionDuration") == "45"


def test_exceeding_the_execution_duration_aborts_with_an_error_summary(server, cleanup):
    """Item 57: ABORTED (not ERROR), with a reason for pyvo's raise_if_error."""
    job = server.create("sleep", {"seconds": "60", "EXECUTIONDURATION": "2", "PHASE": "RUN"})
    cleanup.append(job)
    started = time.monotonic()
    phase = server.wait_phase(job, {"ABORTED", "COMPLETED", "ERROR"}, timeout=15)
    assert phase == "ABORTED"
    assert time.monotonic() - started < 12
    root = get_job_xml(job)
    summary = root.find("uws:errorSummary", NS)
    assert summary is not None
    message = summary.find("uws:message", NS).text
    assert "duration" in message and "2" in message
    assert uws_text(root, "endTime") is not None


def test_delete_answers_303_to_the_job_list_and_forgets_the_job(server):
    job = server.create("echo", {"message": "delete"})
    response = requests.delete(job, allow_redirects=False, timeout=10)
    _assert_see_other(response, server.list_url("echo"))
    assert requests.get(job, timeout=10).status_code == 404
    assert job_id_of(job) not in list_job_ids(server.list_url("echo"))
    # deleting again: it no longer exists
    assert requests.delete(job, allow_redirects=False, timeout=10).status_code == 404


def test_delete_of_a_running_job_stops_it_and_frees_its_directory(server):
    job = server.create("sleep", {"seconds": "60", "PHASE": "RUN"})
    server.wait_phase(job, {"EXECUTING"})
    job_dir = server.data_dir / "jobs" / job_id_of(job)
    _assert_see_other(requests.delete(job, allow_redirects=False, timeout=10),
                      server.list_url("sleep"))
    assert requests.get(job, timeout=10).status_code == 404
    deadline = time.monotonic() + 10
    while job_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not job_dir.exists()


def test_post_action_delete_destroys_the_job_like_delete(server):
    job = server.create("echo", {"message": "action"})
    _assert_see_other(_post(job, {"ACTION": "DELETE"}), server.list_url("echo"))
    assert requests.get(job, timeout=10).status_code == 404
    other = server.create("echo", {"message": "action lower"})
    _assert_see_other(_post(other, {"action": "delete"}), server.list_url("echo"))
    assert requests.get(other, timeout=10).status_code == 404


def test_following_the_delete_redirect_gives_the_job_list(server):
    """uws-client GETs the Location after a DELETE: it must answer 200."""
    job = server.create("echo", {"message": "follow"})
    response = requests.delete(job, timeout=10)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [303]


def test_parameters_can_be_updated_while_pending_by_post_to_the_job(server):
    job = server.create("echo", {"message": "old"})
    _assert_see_other(_post(job, {"message": "new"}), job)
    assert requests.get(f"{job}/parameters/message", timeout=10).text == "new"


def test_parameters_can_be_updated_while_pending_by_post_to_parameters(server):
    job = server.create("echo", {"message": "old"})
    _assert_see_other(_post(f"{job}/parameters", {"MESSAGE": "newer"}), job)
    root = get_job_xml(job)
    values = [(p.get("id"), p.text) for p in root.iterfind("uws:parameters/uws:parameter", NS)]
    assert values == [("message", "newer")]


def test_a_parameter_can_be_set_by_put_while_pending(server):
    job = server.create("echo", {"message": "old"})
    response = requests.put(f"{job}/parameters/message", data=b"put value",
                            headers={"Content-Type": "text/plain"}, allow_redirects=False,
                            timeout=10)
    _assert_see_other(response, job)
    assert requests.get(f"{job}/parameters/message", timeout=10).text == "put value"


def test_parameters_cannot_change_after_pending(server):
    job = server.create("echo", {"message": "fixed", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    for response in (
        _post(job, {"message": "x"}),
        _post(f"{job}/parameters", {"message": "x"}),
        requests.put(f"{job}/parameters/message", data=b"x",
                     headers={"Content-Type": "text/plain"}, allow_redirects=False, timeout=10),
    ):
        assert response.status_code == 403, response.text
        assert response.headers["Content-Type"].startswith("text/plain")
    assert requests.get(f"{job}/parameters/message", timeout=10).text == "fixed"


def test_a_parameter_update_and_run_in_one_post_runs_with_the_new_value(server):
    job = server.create("echo", {"message": "before"})
    _assert_see_other(_post(job, {"message": "after", "PHASE": "RUN"}), job)
    server.wait_phase(job, {"COMPLETED"})
    href = f"{job}/results/result"
    assert requests.get(href, timeout=10).text == "after"


def test_destruction_reached_deletes_the_job(server):
    """Item 59 with the default policy (delete): the service forgets the job."""
    job = server.create("echo", {"message": "short-lived"})
    soon = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    _assert_see_other(_post(f"{job}/destruction", {"DESTRUCTION": soon}), job)
    deadline = time.monotonic() + 12
    status = 200
    while time.monotonic() < deadline:
        status = requests.get(job, timeout=10).status_code
        if status == 404:
            break
        time.sleep(0.3)
    assert status == 404
    assert not (server.data_dir / "jobs" / job_id_of(job)).exists()


def test_destruction_of_a_running_job_aborts_and_deletes_it(server):
    job = server.create("sleep", {"seconds": "60", "PHASE": "RUN"})
    server.wait_phase(job, {"EXECUTING"})
    soon = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _assert_see_other(_post(f"{job}/destruction", {"DESTRUCTION": soon}), job)
    deadline = time.monotonic() + 12
    while requests.get(job, timeout=10).status_code != 404 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert requests.get(job, timeout=10).status_code == 404


def test_automatic_properties_cannot_be_set_by_the_client(server):
    """Item 14: creationTime, startTime, jobId... are not client-writable."""
    job = server.create("echo", {"message": "auto"})
    before = get_job_xml(job)
    for name in ("creationTime", "startTime", "endTime", "jobId", "ownerId", "quote"):
        response = _post(job, {name: "2000-01-01T00:00:00Z"})
        assert response.status_code == 400, (name, response.status_code)
        assert name.lower() in response.text.lower()
    after = get_job_xml(job)
    for tag in ("jobId", "creationTime", "startTime", "ownerId", "quote"):
        assert uws_text(after, tag) == uws_text(before, tag)


def test_control_parameter_names_are_case_insensitive_everywhere(server):
    """Item 78: DESTRUCTION, EXECUTIONDURATION, RUNID in any case, at creation and later."""
    job = server.create("echo", {"message": "m", "executionDuration": "33", "runid": "x",
                                 "destruction": "2030-01-01T00:00:00Z"})
    root = get_job_xml(job)
    assert uws_text(root, "executionDuration") == "33"
    assert uws_text(root, "runId") == "x"
    _assert_see_other(_post(f"{job}/executionduration", {"executionduration": "44"}), job)
    when = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    _assert_see_other(_post(f"{job}/destruction",
                            {"Destruction": when.strftime("%Y-%m-%dT%H:%M:%SZ")}), job)
    root = get_job_xml(job)
    assert uws_text(root, "executionDuration") == "44"
    assert uws_text(root, "destruction") == when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_shortening_the_execution_duration_of_a_running_job_aborts_it(server, cleanup):
    """Item 29 on an EXECUTING job: the new limit applies to the running job."""
    job = server.create("sleep", {"seconds": "60", "PHASE": "RUN"})
    cleanup.append(job)
    server.wait_phase(job, {"EXECUTING"})
    _assert_see_other(_post(f"{job}/executionduration", {"EXECUTIONDURATION": "1"}), job)
    assert server.wait_phase(job, {"ABORTED", "COMPLETED", "ERROR"}, timeout=15) == "ABORTED"
    message = get_job_xml(job).find("uws:errorSummary/uws:message", NS).text
    assert "duration" in message
