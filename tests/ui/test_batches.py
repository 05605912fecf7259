"""The batch pages and the submit form's sweep, over plain HTTP (both databases)."""

from __future__ import annotations

import html
import re
import time

import requests

from tests.ui.conftest import UiServer, csrf_of
from uws_server.ui.batches import segments
from uws_server.ui.forms import Field
from uws_server.ui.sweep import combination, sweep_error


def _sweep(web: requests.Session, ui: UiServer, jobtype: str, data: dict[str, str]
           ) -> requests.Response:
    form = web.get(f"{ui.url}/ui/submit/{jobtype}", timeout=10)
    return web.post(f"{ui.url}/ui/submit/{jobtype}", allow_redirects=False, timeout=30,
                    data={"sweep": "on", **data, "csrf_token": csrf_of(form.text)})


def _batch_id(response: requests.Response) -> str:
    alerts = re.findall(r'role="alert">([^<]*)', response.text)
    assert response.status_code == 303, (response.status_code, alerts)
    location = response.headers["Location"]
    assert location.startswith("/ui/batches/"), location
    return location.rsplit("/", 1)[-1]


def _api_batch(ui: UiServer, user: str, batch_id: str) -> requests.Response:
    return requests.get(f"{ui.url}/batches/{batch_id}", headers=ui.bearer(user), timeout=10)


def _wait_counts(ui: UiServer, batch_id: str, status: str, count: int,
                 timeout: float = 90) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = _api_batch(ui, "alice", batch_id).json()["submitted_jobs"]
        if counts.get(status) == count:
            return counts
        time.sleep(0.3)
    raise AssertionError(f"batch {batch_id}: {counts}, wanted {count} {status}")


def _error_of(page: str, key: str) -> str:
    found = re.search(rf'<p class="field-error" id="e-{key}" role="alert">([^<]*)</p>', page)
    assert found, page[:3000]
    return html.unescape(found.group(1))


def test_a_sweep_becomes_one_batch_of_the_cartesian_product_with_the_fixed_fields(ui_server):
    web = ui_server.signed_in("alice")
    response = _sweep(web, ui_server, "sleep", {"sweep-seconds": "0\n\n 0.1 \n",
                                                "start": "pending"})
    batch_id = _batch_id(response)
    summary = _api_batch(ui_server, "alice", batch_id).json()
    assert summary["tool_id"].startswith("sleep/")
    assert summary["n_submitted"] == 2 and summary["submitted_jobs"]["SUBMITTED"] == 2
    jobs = requests.get(f"{ui_server.url}/batches/{batch_id}/jobs", timeout=10,
                        headers=ui_server.bearer("alice")).json()
    assert [j["args"]["seconds"] for j in jobs] == ["0", "0.1"]  # blank lines dropped


def test_a_batch_page_shows_the_seven_counts_as_a_labelled_bar_and_the_jobs(ui_server):
    web = ui_server.signed_in("alice")
    batch_id = _batch_id(_sweep(web, ui_server, "echo", {"sweep-message": "a\nb\nc"}))
    _wait_counts(ui_server, batch_id, "SUCCEEDED", 3)
    page = web.get(f"{ui_server.url}/ui/batches/{batch_id}", timeout=10)
    assert page.status_code == 200
    for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED",
                   "FAILED"):
        expected = 3 if status == "SUCCEEDED" else 0
        found = re.search(rf'id="count-{status.lower()}">{expected}</strong>', page.text)
        assert found, status
    assert 'class="st-succeeded" x="0.0" y="0" width="100.0"' in page.text  # the whole bar
    assert 'data-active="false"' in page.text  # nothing left to follow
    for message in ("message=a", "message=b", "message=c"):
        assert message in page.text
    state = web.get(f"{ui_server.url}/ui/batches/{batch_id}/state.json", timeout=10).json()
    assert state["active"] is False and state["counts"]["SUCCEEDED"] == 3
    assert "message=c" in state["rows"] and 'id="count-succeeded">3<' in state["bar"]
    listed = web.get(f"{ui_server.url}/ui/batches", timeout=10).text
    assert batch_id[:12] in listed
    one = web.get(f"{ui_server.url}/ui/batches/{batch_id}?status=FAILED", timeout=10).text
    assert "message=a" not in one and "No jobs match." in one
    bad = web.get(f"{ui_server.url}/ui/batches/{batch_id}?status=DONE", timeout=10)
    assert bad.status_code == 400 and "status: unknown status 'DONE'" in html.unescape(bad.text)


def test_a_batch_job_links_to_its_batch_and_the_jobs_page_links_batches(ui_server):
    web = ui_server.signed_in("alice")
    batch_id = _batch_id(_sweep(web, ui_server, "echo", {"sweep-message": "linked",
                                                          "start": "pending"}))
    job_id = requests.get(f"{ui_server.url}/batches/{batch_id}/jobs", timeout=10,
                          headers=ui_server.bearer("alice")).json()[0]["job_id"]
    job_page = web.get(f"{ui_server.url}/ui/jobs/{job_id}", timeout=10).text
    assert f'href="/ui/batches/{batch_id}" id="batch-link"' in job_page
    assert 'href="/ui/batches"' in web.get(f"{ui_server.url}/ui/jobs", timeout=10).text


def test_another_users_batch_is_not_found_on_every_page_and_action(ui_server):
    alice = ui_server.signed_in("alice")
    batch_id = _batch_id(_sweep(alice, ui_server, "sleep", {"sweep-seconds": "30\n31",
                                                             "start": "pending"}))
    bob = ui_server.signed_in("bob")
    token = csrf_of(bob.get(f"{ui_server.url}/ui/batches", timeout=10).text)
    for path in ("", "/state.json"):
        assert bob.get(f"{ui_server.url}/ui/batches/{batch_id}{path}",
                       timeout=10).status_code == 404, path
    for action in ("abort", "delete"):
        refused = bob.post(f"{ui_server.url}/ui/batches/{batch_id}/action", timeout=10,
                           data={"action": action, "csrf_token": token})
        assert refused.status_code == 404, action
    assert batch_id[:12] not in bob.get(f"{ui_server.url}/ui/batches", timeout=10).text
    assert _api_batch(ui_server, "alice", batch_id).json()["submitted_jobs"]["SUBMITTED"] == 2
    admin = requests.get(f"{ui_server.url}/ui/batches/{batch_id}", timeout=10,
                         headers=ui_server.bearer("ops"))
    assert admin.status_code == 200  # admins see every batch


def test_batch_actions_without_the_csrf_token_are_403_and_change_nothing(ui_server):
    web = ui_server.signed_in("alice")
    batch_id = _batch_id(_sweep(web, ui_server, "sleep", {"sweep-seconds": "30",
                                                           "start": "pending"}))
    for token in ({}, {"csrf_token": "forged"}):
        for action in ("abort", "delete"):
            refused = web.post(f"{ui_server.url}/ui/batches/{batch_id}/action",
                               data={"action": action, **token}, allow_redirects=False,
                               timeout=10)
            assert refused.status_code == 403 and "CSRF" in refused.text
        created = web.post(f"{ui_server.url}/ui/submit/echo", allow_redirects=False,
                           data={"sweep": "on", "sweep-message": "x", **token}, timeout=10)
        assert created.status_code == 403
    assert _api_batch(ui_server, "alice", batch_id).json()["submitted_jobs"]["SUBMITTED"] == 1


def test_abort_stops_every_unfinished_job_and_delete_removes_the_batch(ui_server):
    web = ui_server.signed_in("alice")
    batch_id = _batch_id(_sweep(web, ui_server, "sleep", {"sweep-seconds": "60\n61\n62"}))
    page = web.get(f"{ui_server.url}/ui/batches/{batch_id}", timeout=10).text
    assert 'data-active="true"' in page and 'value="abort"' in page
    token = csrf_of(page)
    aborted = web.post(f"{ui_server.url}/ui/batches/{batch_id}/action", timeout=10,
                       data={"action": "abort", "csrf_token": token}, allow_redirects=False)
    assert aborted.status_code == 303
    assert aborted.headers["Location"] == f"/ui/batches/{batch_id}"
    counts = _api_batch(ui_server, "alice", batch_id).json()["submitted_jobs"]
    assert counts["FAILED"] == 3 and sum(counts.values()) == 3
    unknown = web.post(f"{ui_server.url}/ui/batches/{batch_id}/action", timeout=10,
                       data={"action": "explode", "csrf_token": token})
    assert unknown.status_code == 400
    assert "action: expected abort or delete" in html.unescape(unknown.text)
    deleted = web.post(f"{ui_server.url}/ui/batches/{batch_id}/action", timeout=10,
                       data={"action": "delete", "csrf_token": token}, allow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["Location"] == "/ui/batches"
    assert _api_batch(ui_server, "alice", batch_id).status_code == 404
    assert web.get(f"{ui_server.url}/ui/batches/{batch_id}", timeout=10).status_code == 404


def test_a_bad_value_of_a_sweep_is_shown_next_to_its_box_naming_the_set(ui_server):
    web = ui_server.signed_in("bob")
    before = requests.get(f"{ui_server.url}/batches", headers=ui_server.bearer("bob"),
                          timeout=10).json()
    response = _sweep(web, ui_server, "sleep", {"sweep-seconds": "1\nsoon\n2"})
    assert response.status_code == 400
    message = _error_of(response.text, "sweep-seconds")
    assert message.startswith("set 1 (seconds=soon): seconds: expected a number"), message
    assert "1\nsoon\n2</textarea>" in response.text  # the values are kept
    nothing = _sweep(web, ui_server, "echo", {"message": "fixed"})
    assert nothing.status_code == 400
    assert "at least one parameter" in _error_of(nothing.text, "sweep")
    run_id = _sweep(web, ui_server, "echo", {"sweep-message": "a", "RUNID": "mine"})
    assert run_id.status_code == 400 and "batch's id" in _error_of(run_id.text, "RUNID")
    after = requests.get(f"{ui_server.url}/batches", headers=ui_server.bearer("bob"),
                         timeout=10).json()
    assert len(after) == len(before)  # nothing was written


def test_the_set_number_of_a_refusal_is_turned_back_into_its_values():
    varied = {"a": ["1", "2"], "b": ["x", "y", "z"]}
    assert combination(varied, 0) == {"a": "1", "b": "x"}
    assert combination(varied, 4) == {"a": "2", "b": "y"}  # the last name varies fastest
    fields = [Field("a", "integer", True, "", "", (), False, ""),
              Field("b", "string", True, "", "", (), False, ""),
              Field("c", "string", False, "", "", (), False, "")]
    assert sweep_error(fields, varied, "set 5: a: expected an integer") == (
        "sweep-a", "set 5 (a=2, b=z): a: expected an integer")
    assert sweep_error(fields, varied, "set 0: c: too long") == (
        "c", "set 0 (a=1, b=x): c: too long")
    assert sweep_error(fields, varied, "batch of 9 jobs: too many") == (
        None, "batch of 9 jobs: too many")


def test_the_bar_segments_sit_side_by_side_and_fill_the_bar():
    bar = segments({"SUBMITTED": 1, "RUNNING": 1, "SUCCEEDED": 2, "FAILED": 0})
    assert [s.status for s in bar] == ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
                                       "RUNNING", "SUCCEEDED", "FAILED"]
    shown = [(s.status, s.x, s.width) for s in bar if s.count]
    assert shown == [("SUBMITTED", 0.0, 25.0), ("RUNNING", 25.0, 25.0),
                     ("SUCCEEDED", 50.0, 50.0)]
    assert all(s.width == 0 for s in segments({}))
