"""Bad requests: the right status, a one-line text/plain message naming the parameter, no
half-created job. Conformance items 4, 16, 26, 30, 42, 47, 49, 68, 73, 79, pitfall P20;
the project decisions of §0 (wrong phase 403, malformed 400)."""

from __future__ import annotations

import pytest
import requests

from tests.support import assert_plain_error, job_dirs, list_job_ids
from tests.uws.conftest import MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES

MISSING = "0123456789abcdef0123456789abcdef"


def _create_rejected(server, jobtype, status, names, *, data=None, files=None, url=None,
                     **kwargs):
    """POST a creation that must be refused; check the answer and that nothing was created."""
    list_url = server.list_url(jobtype)
    before_ids = list_job_ids(list_url)
    before_dirs = job_dirs(server.data_dir)
    response = requests.post(url or list_url, data=data, files=files, allow_redirects=False,
                             timeout=10, **kwargs)
    assert_plain_error(response, status, *names)
    assert list_job_ids(list_url) == before_ids
    assert job_dirs(server.data_dir) <= before_dirs
    return response


# -- 404 --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    f"/uws/echo/{MISSING}", f"/uws/echo/{MISSING}/phase", f"/uws/echo/{MISSING}/error",
    f"/uws/echo/{MISSING}/owner", f"/uws/echo/{MISSING}/quote",
    f"/uws/echo/{MISSING}/executionduration", f"/uws/echo/{MISSING}/destruction",
    f"/uws/echo/{MISSING}/parameters/message", "/uws/echo/not-a-job",
    "/uws/nosuchtype", f"/uws/nosuchtype/{MISSING}", "/uws/echo/x/y/z/w",
])
def test_unknown_jobs_job_lists_and_resources_answer_404(server, path):
    assert_plain_error(requests.get(server.url + path, timeout=10), 404)


@pytest.mark.parametrize("method,child,data", [
    ("POST", "/phase", {"PHASE": "RUN"}), ("POST", "/destruction",
                                           {"DESTRUCTION": "2030-01-01T00:00:00Z"}),
    ("POST", "/executionduration", {"EXECUTIONDURATION": "10"}), ("POST", "", {"PHASE": "RUN"}),
    ("POST", "", {}), ("DELETE", "", None), ("POST", "/parameters", {"message": "x"}),
    ("PUT", "/parameters/message", {"message": "x"}),
])
def test_actions_on_an_unknown_job_answer_404(server, method, child, data):
    url = f"{server.list_url('echo')}/{MISSING}{child}"
    response = requests.request(method, url, data=data, allow_redirects=False, timeout=10)
    assert_plain_error(response, 404)


def test_creating_in_an_unknown_job_list_is_404(server):
    response = requests.post(f"{server.url}/uws/nosuchtype", data={"x": "1"},
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 404, "nosuchtype")


# -- 405 --------------------------------------------------------------------------------
@pytest.mark.parametrize("method,child", [
    ("DELETE", None), ("PUT", None), ("PATCH", None),
    ("PUT", ""), ("PATCH", ""),
    ("POST", "/quote"), ("DELETE", "/quote"), ("POST", "/owner"), ("POST", "/error"),
    ("DELETE", "/phase"), ("PUT", "/phase"), ("DELETE", "/destruction"),
    ("DELETE", "/executionduration"), ("DELETE", "/parameters"), ("PUT", "/results"),
    ("POST", "/results"), ("DELETE", "/results"), ("DELETE", "/results/result"),
    ("DELETE", "/parameters/message"),
])
def test_wrong_methods_answer_405_with_an_allow_header(server, method, child):
    job = server.create("echo", {"message": "405"})
    url = server.list_url("echo") if child is None else f"{job}{child}"
    before = list_job_ids(server.list_url("echo"))
    response = requests.request(method, url, data={"x": "1"}, allow_redirects=False, timeout=10)
    assert_plain_error(response, 405)
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allowed and method not in allowed
    assert list_job_ids(server.list_url("echo")) == before
    assert requests.get(job, timeout=10).status_code == 200


# -- 400: phases, times, durations -------------------------------------------------------
def test_a_bad_phase_value_is_400(server):
    job = server.create("echo", {"message": "phase"})
    for value in ("FLY", "run please", "SUSPEND"):
        response = requests.post(f"{job}/phase", data={"PHASE": value}, allow_redirects=False,
                                 timeout=10)
        assert_plain_error(response, 400, "PHASE")
    assert_plain_error(requests.post(f"{job}/phase", data={}, allow_redirects=False,
                                     timeout=10), 400, "PHASE")
    assert requests.get(f"{job}/phase", timeout=10).text == "PENDING"


def test_phase_given_twice_is_400(server):
    job = server.create("echo", {"message": "twice"})
    response = requests.post(f"{job}/phase", data=[("PHASE", "RUN"), ("PHASE", "ABORT")],
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 400, "PHASE")
    assert requests.get(f"{job}/phase", timeout=10).text == "PENDING"


def test_a_bad_phase_filter_is_400(server):
    assert_plain_error(requests.get(server.list_url("echo"), params={"PHASE": "DONE"},
                                    timeout=10), 400, "PHASE")


def test_phase_other_than_run_at_creation_is_400_and_creates_nothing(server):
    _create_rejected(server, "echo", 400, ["PHASE"], data={"message": "x", "PHASE": "ABORT"})
    _create_rejected(server, "echo", 400, ["PHASE"], data={"message": "x"},
                     url=server.list_url("echo") + "?PHASE=GO")


@pytest.mark.parametrize("value", ["tomorrow", "2030-13-01T00:00:00Z", "2030-01-01T25:00:00Z",
                                   "", "1700000000"])
def test_a_malformed_destruction_is_400(server, value):
    job = server.create("echo", {"message": "destruction"})
    before = requests.get(f"{job}/destruction", timeout=10).text
    response = requests.post(f"{job}/destruction", data={"DESTRUCTION": value},
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 400, "DESTRUCTION")
    assert requests.get(f"{job}/destruction", timeout=10).text == before


def test_a_malformed_destruction_at_creation_is_400_and_creates_nothing(server):
    _create_rejected(server, "echo", 400, ["DESTRUCTION"],
                     data={"message": "x", "DESTRUCTION": "soon"})


@pytest.mark.parametrize("value", ["yesterday", "2030-02-30T00:00:00Z", "2020-01-01T00:00:00+2"])
def test_a_malformed_after_is_400(server, value):
    assert_plain_error(requests.get(server.list_url("echo"), params={"AFTER": value},
                                    timeout=10), 400, "AFTER")


@pytest.mark.parametrize("value", ["-1", "-0.5", "abc", "", "nan", "inf", "1e999", "10s"])
def test_a_negative_or_non_numeric_execution_duration_is_400(server, value):
    job = server.create("echo", {"message": "duration"})
    before = requests.get(f"{job}/executionduration", timeout=10).text
    response = requests.post(f"{job}/executionduration", data={"EXECUTIONDURATION": value},
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 400, "EXECUTIONDURATION")
    assert requests.get(f"{job}/executionduration", timeout=10).text == before


def test_a_bad_execution_duration_at_creation_is_400_and_creates_nothing(server):
    _create_rejected(server, "echo", 400, ["EXECUTIONDURATION"],
                     data={"message": "x", "EXECUTIONDURATION": "-5"})
    _create_rejected(server, "echo", 400, ["EXECUTIONDURATION"],
                     data={"message": "x", "EXECUTIONDURATION": "forever"})


@pytest.mark.parametrize("name,values", [
    ("DESTRUCTION", ["2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z"]),
    ("EXECUTIONDURATION", ["10", "20"]),
])
def test_single_valued_control_parameters_given_twice_are_400(server, name, values):
    """Item 79."""
    job = server.create("echo", {"message": "twice"})
    response = requests.post(f"{job}/{name.lower()}", data=[(name, v) for v in values],
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 400, name)


def test_runid_twice_or_too_long_at_creation_is_400_and_creates_nothing(server):
    _create_rejected(server, "echo", 400, ["RUNID"],
                     data=[("message", "x"), ("RUNID", "a"), ("RUNID", "b")])
    _create_rejected(server, "echo", 400, ["RUNID"], data={"message": "x", "RUNID": "r" * 65})


# -- 400: job parameters -------------------------------------------------------------------
def test_an_unknown_parameter_is_400_naming_it_and_creates_nothing(server):
    _create_rejected(server, "echo", 400, ["colour"], data={"message": "x", "colour": "red"})


def test_a_wrongly_typed_parameter_is_400_naming_it_and_creates_nothing(server):
    _create_rejected(server, "sleep", 400, ["seconds"], data={"seconds": "abc"})
    _create_rejected(server, "sleep", 400, ["seconds"], data={"seconds": ""})


def test_a_missing_required_parameter_is_400_naming_it_and_creates_nothing(server):
    _create_rejected(server, "sleep", 400, ["seconds"], data={})
    _create_rejected(server, "echo", 400, ["message"], data={"RUNID": "no message"})
    _create_rejected(server, "wordcount", 400, ["input"], data={"PHASE": "RUN"})


def test_an_uploaded_part_matching_no_input_is_400_and_creates_nothing(server):
    _create_rejected(server, "wordcount", 400, ["stray"], data={"input": "param:f"},
                     files={"f": ("a.txt", b"a b"), "stray": ("b.txt", b"c")})


def test_a_file_input_that_is_neither_upload_nor_url_is_400(server):
    _create_rejected(server, "wordcount", 400, ["input"], data={"input": "/etc/passwd"})
    _create_rejected(server, "wordcount", 400, ["input"], data={"input": "file:///etc/passwd"})


def test_an_unknown_or_ill_typed_parameter_update_is_400_and_changes_nothing(server):
    job = server.create("sleep", {"seconds": "1"})
    for data, name in (({"colour": "red"}, "colour"), ({"seconds": "soon"}, "seconds")):
        response = requests.post(job, data=data, allow_redirects=False, timeout=10)
        assert_plain_error(response, 400, name)
    assert requests.get(f"{job}/parameters/seconds", timeout=10).text in ("1", "1.0")
    requests.delete(job, allow_redirects=False, timeout=10)


def test_changing_parameters_after_pending_is_403(server):
    job = server.create("echo", {"message": "set", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    response = requests.post(job, data={"message": "changed"}, allow_redirects=False, timeout=10)
    assert_plain_error(response, 403, "PENDING")
    response = requests.post(f"{job}/parameters", data={"message": "changed"},
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 403)


def test_run_of_a_finished_job_is_403_with_a_reason(server):
    job = server.create("echo", {"message": "again", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    response = requests.post(f"{job}/phase", data={"PHASE": "RUN"}, allow_redirects=False,
                             timeout=10)
    assert_plain_error(response, 403, "COMPLETED")


def test_a_non_object_json_body_is_400(server):
    _create_rejected(server, "echo", 400, [], data=b"[1, 2]",
                     headers={"Content-Type": "application/json"})


def test_an_unknown_action_is_400(server):
    job = server.create("echo", {"message": "action"})
    response = requests.post(job, data={"ACTION": "EXPLODE"}, allow_redirects=False, timeout=10)
    assert_plain_error(response, 400, "ACTION")
    assert requests.get(job, timeout=10).status_code == 200


# -- 400: WAIT and LAST ----------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "", "1.5", "10s"])
def test_a_malformed_wait_is_400(server, value):
    job = server.create("echo", {"message": "wait"})
    response = requests.get(job, params={"WAIT": value}, timeout=10)
    assert_plain_error(response, 400, "WAIT")


def test_a_bad_phase_with_wait_is_400(server):
    job = server.create("echo", {"message": "wait phase"})
    assert_plain_error(requests.get(job, params={"WAIT": 1, "PHASE": "NAPPING"}, timeout=10),
                       400, "PHASE")


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "1.5"])
def test_last_must_be_a_positive_integer(server, value):
    assert_plain_error(requests.get(server.list_url("echo"), params={"LAST": value},
                                    timeout=10), 400, "LAST")


# -- 413 -------------------------------------------------------------------------------------
def test_an_upload_over_the_upload_limit_is_413_and_creates_nothing(limited_server):
    big = b"word " * (MAX_UPLOAD_BYTES // 5 + 50)
    assert MAX_UPLOAD_BYTES < len(big) < MAX_REQUEST_BYTES - 500
    _create_rejected(limited_server, "wordcount", 413, [], files={"input": ("big.txt", big)})


def test_a_request_over_the_request_limit_is_413_and_creates_nothing(limited_server):
    huge = b"word " * (MAX_REQUEST_BYTES // 5 + 100)
    _create_rejected(limited_server, "wordcount", 413, [], files={"input": ("huge.txt", huge)})
    _create_rejected(limited_server, "echo", 413, [], data={"message": "m" * MAX_REQUEST_BYTES})


def test_an_upload_within_the_limits_is_accepted(limited_server):
    job = limited_server.create("wordcount", {"PHASE": "RUN"},
                                files={"input": ("ok.txt", b"just three words")})
    assert limited_server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"


def test_an_oversized_parameter_update_is_413_and_keeps_the_old_value(limited_server):
    job = limited_server.create("wordcount", {}, files={"input": ("small.txt", b"a b")})
    big = b"word " * (MAX_UPLOAD_BYTES // 5 + 50)
    response = requests.post(f"{job}/parameters", files={"input": ("big.txt", big)},
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 413)
    assert requests.get(f"{job}/parameters/input", timeout=10).content == b"a b"


# -- never a 500 or a stack trace ----------------------------------------------------------
def test_garbage_requests_never_give_500(server):
    job = server.create("echo", {"message": "garbage"})
    attempts = [
        requests.post(server.list_url("echo"), data=b"\xff\xfe\x00garbage",
                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                      allow_redirects=False, timeout=10),
        requests.post(server.list_url("echo"), data=b"--x\r\nnot multipart",
                      headers={"Content-Type": "multipart/form-data; boundary=x"},
                      allow_redirects=False, timeout=10),
        requests.post(server.list_url("echo"), data=b"{not json",
                      headers={"Content-Type": "application/json"}, allow_redirects=False,
                      timeout=10),
        requests.post(job, data=b"{not json", headers={"Content-Type": "application/json"},
                      allow_redirects=False, timeout=10),
        requests.get(server.list_url("echo"), params={"LAST": "9" * 30}, timeout=10),
        requests.get(server.list_url("echo"), params={"AFTER": "9999-12-31T23:59:59+23:59"},
                     timeout=10),
        requests.post(f"{job}/destruction", data={"DESTRUCTION": "0001-01-01T00:00:00+01:00"},
                      allow_redirects=False, timeout=10),
        requests.post(f"{job}/destruction", data={"DESTRUCTION": "9999-12-31T23:59:59-01:00"},
                      allow_redirects=False, timeout=10),
        requests.get(server.list_url("echo"), params={"AFTER": "0001-01-01T00:00:00+01:00"},
                     timeout=10),
        requests.post(f"{job}/executionduration", data={"EXECUTIONDURATION": "9" * 400},
                      allow_redirects=False, timeout=10),
        requests.post(server.list_url("echo"), data={"message": "\x00nul"},
                      allow_redirects=False, timeout=10),
    ]
    for response in attempts:
        assert response.status_code < 500, (response.request.url, response.text)
        assert "Traceback" not in response.text


def test_a_nul_character_in_a_value_is_400_naming_it_on_every_database(server):
    """PostgreSQL cannot store NUL in text: it must be a 400, not a 500 on one database."""
    _create_rejected(server, "echo", 400, ["message"], data={"message": "a\x00b"})
    _create_rejected(server, "echo", 400, ["RUNID"], data={"message": "a", "RUNID": "r\x00"})
    job = server.create("echo", {"message": "nul"})
    response = requests.put(f"{job}/parameters/message", data=b"a\x00b",
                            headers={"Content-Type": "text/plain"}, allow_redirects=False,
                            timeout=10)
    assert_plain_error(response, 400, "message")
    assert requests.get(f"{job}/parameters/message", timeout=10).text == "nul"
