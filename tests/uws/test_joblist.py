"""The job list and job creation: conformance items 1-10, 44-49, pitfalls P1, P2, P4, P12,
P15, P16, P18, P19."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import requests

from tests.support import NS, TIME_RE, assert_valid_uws, job_id_of, list_job_ids, uws_text

XLINK_HREF = f"{{{NS['xlink']}}}href"


def _create_echo(server, message="hi", **extra):
    return server.create("echo", {"message": message, **extra})


def test_creating_a_job_answers_303_with_an_absolute_location_to_the_job(server):
    response = requests.post(server.list_url("echo"), data={"message": "x"},
                             allow_redirects=False, timeout=10)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert re.fullmatch(re.escape(server.list_url("echo")) + r"/[0-9a-f]{32}", location)
    follow = requests.get(location, allow_redirects=False, timeout=10)
    assert follow.status_code == 200
    assert_valid_uws(follow.content)


def test_following_the_creation_redirect_lands_on_the_job_document(server):
    """pyvo follows the 303 and takes the final URL as the job URL (P2)."""
    response = requests.post(server.list_url("echo"), data={"message": "x"}, timeout=10)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [303]
    root = assert_valid_uws(response.content)
    assert uws_text(root, "jobId") == job_id_of(response.url)


def test_a_new_job_is_pending(server):
    job = _create_echo(server)
    assert requests.get(f"{job}/phase", timeout=10).text == "PENDING"


def test_every_fixed_child_resource_of_a_job_answers_200(server):
    job = _create_echo(server)
    for child in ("phase", "executionduration", "destruction", "quote", "results",
                  "parameters", "owner"):
        response = requests.get(f"{job}/{child}", allow_redirects=False, timeout=10)
        assert response.status_code == 200, child
        if child in ("results", "parameters"):
            assert_valid_uws(response.content)


def test_job_ids_are_32_hex_digits_safe_for_uws_client(server):
    """P18: no leading h/t/p/s/:// characters that uws-client would strip."""
    ids = {job_id_of(_create_echo(server)) for _ in range(3)}
    for job_id in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    assert len(ids) == 3


def test_phase_run_in_the_creation_query_string_starts_the_job(server):
    response = requests.post(server.list_url("echo") + "?PHASE=RUN", data={"message": "q"},
                             allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert requests.get(response.headers["Location"] + "/phase", timeout=10).text != "PENDING"


def test_phase_run_in_the_creation_body_starts_the_job(server):
    job = server.create("echo", {"message": "b", "PHASE": "RUN"})
    assert requests.get(f"{job}/phase", timeout=10).text in {
        "QUEUED", "EXECUTING", "COMPLETED"}


def test_lower_case_phase_run_at_creation_starts_the_job(server):
    job = server.create("echo", {"message": "b", "phase": "run"})
    assert requests.get(f"{job}/phase", timeout=10).text != "PENDING"


def test_the_job_list_cannot_be_deleted(server):
    _create_echo(server)
    before = list_job_ids(server.list_url("echo"))
    response = requests.delete(server.list_url("echo"), allow_redirects=False, timeout=10)
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert "DELETE" not in response.headers["Allow"]
    assert list_job_ids(server.list_url("echo")) == before


def test_job_list_is_schema_valid_with_version_and_namespaces_on_the_root(server):
    _create_echo(server, RUNID="listed")
    response = requests.get(server.list_url("echo"), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(("application/xml", "text/xml"))
    root = assert_valid_uws(response.content)
    assert root.tag == f"{{{NS['uws']}}}jobs"
    assert root.get("version") == "1.1"
    assert root.nsmap.get("xlink") == NS["xlink"]
    assert NS["uws"] in root.nsmap.values()
    assert b"xlink:href=" in response.content


def test_every_jobref_has_an_absolute_href_phase_and_creation_time(server):
    job = _create_echo(server, RUNID="ref-run")
    root = assert_valid_uws(requests.get(server.list_url("echo"), timeout=10).content)
    refs = {ref.get("id"): ref for ref in root.iterfind("uws:jobref", NS)}
    assert refs
    for job_id, ref in refs.items():
        assert ref.get(XLINK_HREF) == f"{server.list_url('echo')}/{job_id}"
        assert uws_text(ref, "phase") in {"PENDING", "QUEUED", "EXECUTING", "COMPLETED",
                                          "ERROR", "ABORTED", "HELD", "SUSPENDED", "UNKNOWN"}
        assert re.fullmatch(TIME_RE, uws_text(ref, "creationTime"))
    mine = refs[job_id_of(job)]
    assert uws_text(mine, "runId") == "ref-run"
    assert mine.find("uws:ownerId", NS).get(f"{{{NS['xsi']}}}nil") == "true"


def test_jobref_hrefs_answer_200_without_redirect(server):
    _create_echo(server)
    root = assert_valid_uws(requests.get(server.list_url("echo"), params={"LAST": 3},
                                         timeout=10).content)
    for ref in root.iterfind("uws:jobref", NS):
        response = requests.get(ref.get(XLINK_HREF), allow_redirects=False, timeout=10)
        assert response.status_code == 200
        assert_valid_uws(response.content)


def test_an_empty_job_list_is_a_valid_empty_document(server):
    root = assert_valid_uws(requests.get(server.list_url("echo"),
                                         params={"AFTER": "2100-01-01T00:00:00Z"},
                                         timeout=10).content)
    assert root.findall("uws:jobref", NS) == []


def test_the_job_list_with_a_trailing_slash_is_served_not_redirected(server):
    """P15/P19: uws-client asks for ``{jobs}/?LAST=..``; no 301/308 redirect."""
    response = requests.get(server.list_url("echo") + "/", params={"LAST": 1},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 200
    assert_valid_uws(response.content)


def test_no_resource_redirects_on_a_trailing_slash(server):
    job = _create_echo(server)
    for url in (f"{job}/", f"{job}/phase/", f"{job}/results/"):
        response = requests.get(url, allow_redirects=False, timeout=10)
        assert response.status_code not in (301, 302, 307, 308), url


def test_repeated_phase_filter_gives_the_union(server):
    done = server.create("echo", {"message": "d", "PHASE": "RUN"})
    server.wait_phase(done, {"COMPLETED"})
    pending = _create_echo(server)
    root = assert_valid_uws(requests.get(
        server.list_url("echo") + "?PHASE=PENDING&PHASE=COMPLETED", timeout=10).content)
    phases = {uws_text(ref, "phase") for ref in root.iterfind("uws:jobref", NS)}
    assert phases == {"PENDING", "COMPLETED"}
    ids = {ref.get("id") for ref in root.iterfind("uws:jobref", NS)}
    assert {job_id_of(done), job_id_of(pending)} <= ids


def test_a_single_phase_filter_lists_only_that_phase(server):
    pending = _create_echo(server)
    ids = list_job_ids(server.list_url("echo"), PHASE="PENDING")
    assert job_id_of(pending) in ids
    root = assert_valid_uws(requests.get(server.list_url("echo"), params={"PHASE": "PENDING"},
                                         timeout=10).content)
    assert {uws_text(r, "phase") for r in root.iterfind("uws:jobref", NS)} == {"PENDING"}


def test_phase_filter_names_and_values_are_case_insensitive(server):
    pending = _create_echo(server)
    assert job_id_of(pending) in list_job_ids(server.list_url("echo"), phase="pending")
    assert job_id_of(pending) in list_job_ids(server.list_url("echo"), Phase="Pending")


def test_after_lists_only_jobs_created_strictly_later(server):
    first = _create_echo(server)
    created = uws_text(assert_valid_uws(requests.get(first, timeout=10).content), "creationTime")
    time.sleep(0.02)
    second = _create_echo(server)
    ids = list_job_ids(server.list_url("echo"), AFTER=created)
    assert job_id_of(second) in ids
    assert job_id_of(first) not in ids
    assert list_job_ids(server.list_url("echo"), AFTER="2100-01-01T00:00:00Z") == []


def test_after_accepts_z_naive_microseconds_and_offsets(server):
    job = _create_echo(server)
    past = datetime.now(UTC) - timedelta(hours=1)
    for text in (past.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 past.strftime("%Y-%m-%dT%H:%M:%S"),  # uws-client: naive isoformat
                 past.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),  # pyvo
                 past.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                 past.strftime("%Y-%m-%dT%H:%M:%S+00:00")):
        assert job_id_of(job) in list_job_ids(server.list_url("echo"), AFTER=text), text
    # an offset is honoured: 2 h ahead in +02:00 is one hour ago in UTC
    shifted = (past + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+02:00")
    assert job_id_of(job) in list_job_ids(server.list_url("echo"), AFTER=shifted)


def test_last_gives_the_n_newest_jobs_newest_first(server):
    made = []
    for n in range(3):
        made.append(job_id_of(_create_echo(server, f"last {n}")))
        time.sleep(0.01)
    ids = list_job_ids(server.list_url("echo"), LAST=2)
    assert ids == [made[2], made[1]]


def test_the_whole_list_is_sorted_newest_first(server):
    for n in range(2):
        _create_echo(server, f"order {n}")
        time.sleep(0.01)
    root = assert_valid_uws(requests.get(server.list_url("echo"), timeout=10).content)
    times = [uws_text(ref, "creationTime") for ref in root.iterfind("uws:jobref", NS)]
    assert times == sorted(times, reverse=True)


def test_filters_combine_with_and_and_last_applies_after_the_others(server):
    done = server.create("echo", {"message": "newest done", "PHASE": "RUN"})
    server.wait_phase(done, {"COMPLETED"})
    time.sleep(0.01)
    _create_echo(server, "newer but pending")
    assert list_job_ids(server.list_url("echo"), PHASE="COMPLETED", LAST=1) == [job_id_of(done)]
    created = uws_text(assert_valid_uws(requests.get(done, timeout=10).content), "creationTime")
    assert job_id_of(done) not in list_job_ids(server.list_url("echo"), PHASE="COMPLETED",
                                               AFTER=created)


def test_repeated_last_takes_the_smallest(server):
    for n in range(2):
        _create_echo(server, f"twice {n}")
    assert len(list_job_ids(server.list_url("echo") + "?LAST=2&LAST=1")) == 1


def test_filter_names_are_case_insensitive(server):
    for n in range(2):
        _create_echo(server, f"case {n}")
    assert len(list_job_ids(server.list_url("echo"), Last=1)) == 1
    assert len(list_job_ids(server.list_url("echo"), last=1)) == 1
    assert list_job_ids(server.list_url("echo"), after="2100-01-01T00:00:00Z") == []


def test_job_lists_are_separate_per_job_type(server):
    echo = _create_echo(server)
    assert job_id_of(echo) not in list_job_ids(server.list_url("sleep"))
    assert requests.get(f"{server.list_url('sleep')}/{job_id_of(echo)}",
                        timeout=10).status_code == 404


def test_deleted_jobs_leave_the_job_list(server):
    job = _create_echo(server)
    assert job_id_of(job) in list_job_ids(server.list_url("echo"))
    response = requests.delete(job, allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert response.headers["Location"] == server.list_url("echo")
    assert job_id_of(job) not in list_job_ids(server.list_url("echo"))
