"""Every endpoint of the batch API over HTTP, on SQLite and PostgreSQL, by reference 003's names."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.batches.conftest import OCPS_COMMAND, Users
from tests.support import assert_json_detail, job_dirs

STATUSES = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"}
ENTRY_FIELDS = {"batch_id", "tool_id", "n_jobs", "hardware", "create_time"}
SUMMARY_FIELDS = ENTRY_FIELDS | {"n_submitted", "submitted_jobs"}
JOB_FIELDS = {"job_id", "log_id", "args", "hardware", "status", "reason", "create_time",
              "start_time", "stop_time"}
HARDWARE_FIELDS = {"filesystems", "cpu", "memory"}
ECHO = json.loads((Path(__file__).resolve().parents[2] / "uws_server" / "jobtypes"
                   / "manifests" / "echo.json").read_text())


@pytest.fixture(scope="module")
def pair(users: Users) -> str:
    """A job type with two parameters and manifest limits (maxCpus 4, maxMem 2048): its name."""
    manifest = json.loads(json.dumps(ECHO))
    job = manifest["job"]
    job["name"] = "pair"
    job["interface"]["inputs"]["json"] = [
        {"name": "message", "type": "string", "required": True},
        {"name": "count", "type": "integer", "required": True}]
    job["interface"]["command"] += " ${count}"
    job["resources"]["scalar"] += [{"name": "maxCpus", "value": 4},
                                   {"name": "maxMem", "value": 2048}]
    response = users.call("POST", "/v6/job-types/", "ops",
                          json={"manifest": manifest, "docker_image": "pair:1"})
    assert response.status_code in (200, 201), response.text
    return "pair"


def _jobs(users: Users, batch_id: str, user: str = "alice", **params: Any
          ) -> list[dict[str, Any]]:
    response = users.call("GET", f"/batches/{batch_id}/jobs", user, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_creating_a_batch_answers_201_with_location_and_the_reference_fields(users, pair):
    response = users.call("POST", "/batches", json={
        "tool_id": "pair/1.0.0", "sweep": {"message": ["a", "b"], "count": [1, 2, 3]},
        "hardware": {"cpu": 2, "memory": 512, "filesystems": ["scratch"]}, "start": False})
    assert response.status_code == 201, response.text
    doc = response.json()
    assert response.headers["Location"] == f"{users.server.url}/batches/{doc['batch_id']}"
    assert set(doc) == SUMMARY_FIELDS
    assert doc["tool_id"] == "pair/1.0.0"
    assert doc["n_jobs"] == 6 and doc["n_submitted"] == 6
    assert doc["hardware"] == {"filesystems": ["scratch"], "cpu": 2, "memory": 512}
    assert set(doc["submitted_jobs"]) == STATUSES
    assert doc["submitted_jobs"]["SUBMITTED"] == 6
    assert sum(doc["submitted_jobs"].values()) == 6
    again = users.call("GET", f"/batches/{doc['batch_id']}")
    assert again.status_code == 200 and again.json() == doc


def test_a_sweep_is_the_cartesian_product_and_zip_pairs_the_lists(users, pair):
    product = users.create({"tool_id": "pair", "start": False,
                            "sweep": {"message": ["a", "b"], "count": [1, 2]}})
    args = [job["args"] for job in _jobs(users, product["batch_id"])]
    assert args == [{"message": "a", "count": "1"}, {"message": "a", "count": "2"},
                    {"message": "b", "count": "1"}, {"message": "b", "count": "2"}]
    zipped = users.create({"tool_id": "pair", "start": False, "mode": "zip",
                           "sweep": {"message": ["a", "b"], "count": [1, 2]}})
    assert [job["args"] for job in _jobs(users, zipped["batch_id"])] == [
        {"message": "a", "count": "1"}, {"message": "b", "count": "2"}]
    uneven = users.call("POST", "/batches", json={
        "tool_id": "pair", "mode": "zip", "sweep": {"message": ["a", "b"], "count": [1]}})
    assert_json_detail(uneven, 400, "zip", "message has 2", "count has 1")


def test_common_arguments_join_every_set_and_may_not_be_repeated_by_one(users, pair):
    doc = users.create({"tool_id": "pair", "start": False, "common": {"count": 7},
                        "args": [{"message": "x"}, {"message": "y"}]})
    assert [job["args"] for job in _jobs(users, doc["batch_id"])] == [
        {"count": "7", "message": "x"}, {"count": "7", "message": "y"}]
    clash = users.call("POST", "/batches", json={
        "tool_id": "pair", "common": {"count": 7}, "args": [{"message": "x"},
                                                            {"message": "y", "count": 1}]})
    assert_json_detail(clash, 400, "set 1", "count", "common")


@pytest.mark.parametrize(("body", "names"), [
    ({"args": [{"message": "ok", "count": 1}, {"message": "ok", "count": "many"}]},
     ("set 1", "count", "integer")),
    ({"args": [{"message": "ok", "count": 1}, {"count": 2}, {"nope": 1}]},
     ("set 1", "message", "missing")),
    ({"args": [{"message": "ok", "count": 1, "colour": "red"}]}, ("set 0", "colour")),
    ({"sweep": {"message": ["a"], "count": [1, "x"]}}, ("set 1", "count")),
    ({"args": [{"message": "ok", "count": 1}], "hardware": {"filesystems": ["tape"]}},
     ("hardware.filesystems", "tape", "scratch")),
    ({"args": [{"message": "ok", "count": 1}], "hardware": {"cpu": 6}},
     ("hardware.cpu", "6", "limit of 4", "maxCpus")),
    ({"args": [{"message": "ok", "count": 1}], "hardware": {"memory": 3000}},
     ("hardware.memory", "limit of 2048", "maxMem")),
    ({"args": [{"message": "ok", "count": 1}], "hardware": {"cpu": 0}}, ("hardware.cpu",)),
    ({"args": [{"message": "ok", "count": 1}], "hardware": {"gpus": 1}}, ("hardware.gpus",)),
    ({"args": [], "start": True}, ("args",)),
    ({"args": [{"message": "ok", "count": 1}], "sweep": {"message": ["a"]}},
     ("args", "sweep")),
    ({"args": [{"message": "ok", "count": 1}], "start": "yes"}, ("start",)),
    ({"args": [{"message": {"nested": 1}, "count": 1}]}, ("set 0", "message")),
    ({"args": [{"message": "ok", "count": 1}], "colour": 1}, ("colour", "unknown field")),
])
def test_a_bad_request_is_a_400_naming_what_and_writes_nothing(users, pair, body, names):
    before = users.call("GET", "/batches").json()
    response = users.call("POST", "/batches", json={"tool_id": "pair", **body})
    assert_json_detail(response, 400, *names)
    assert users.call("GET", "/batches").json() == before


def test_the_operators_limit_applies_beside_the_manifests(users):
    response = users.call("POST", "/batches", json={
        "tool_id": "echo", "args": [{"message": "m"}], "hardware": {"memory": 5000}})
    assert_json_detail(response, 400, "hardware.memory", "limit of 4096", "UWS_MAX_MEMORY_MIB")


def test_unknown_tools_and_versions_are_refused(users):
    assert_json_detail(users.call("POST", "/batches", json={
        "tool_id": "nothing", "args": [{"message": "m"}]}), 404, "nothing")
    assert_json_detail(users.call("POST", "/batches", json={
        "tool_id": "echo/9.9", "args": [{"message": "m"}]}), 400, "9.9")
    assert_json_detail(users.call("POST", "/batches", data="tool_id=echo",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"}),
                       415)


def test_jobs_page_with_limit_and_offset_and_filter_by_status(users):
    doc = users.create({"tool_id": "echo", "start": False,
                        "sweep": {"message": [f"m{i}" for i in range(7)]}})
    batch_id = doc["batch_id"]
    page = _jobs(users, batch_id, limit=3, offset=2)
    assert [job["args"]["message"] for job in page] == ["m2", "m3", "m4"]
    assert all(set(job) == JOB_FIELDS and set(job["hardware"]) == HARDWARE_FIELDS
               for job in page)
    assert len(_jobs(users, batch_id, status="SUBMITTED")) == 7
    assert _jobs(users, batch_id, status="RUNNING,SUCCEEDED") == []
    assert_json_detail(users.call("GET", f"/batches/{batch_id}/jobs",
                                  params={"status": "DONE"}), 400, "status", "DONE")
    assert_json_detail(users.call("GET", f"/batches/{batch_id}/jobs",
                                  params={"limit": "0"}), 400, "limit")
    listed = users.call("GET", "/batches", params={"limit": 1}).json()
    assert len(listed) == 1 and set(listed[0]) == ENTRY_FIELDS
    assert set(listed[0]["hardware"]) == HARDWARE_FIELDS


def test_a_job_of_the_batch_by_id_and_its_log_url(users):
    doc = users.create({"tool_id": "echo", "start": False, "args": [{"message": "one"}]})
    job = _jobs(users, doc["batch_id"])[0]
    response = users.call("GET", f"/batches/{doc['batch_id']}/jobs/{job['job_id']}")
    assert response.status_code == 200
    one = response.json()
    assert one == job and set(one) == JOB_FIELDS
    assert one["status"] == "SUBMITTED" and one["reason"] is None
    assert one["start_time"] is None and one["stop_time"] is None
    assert one["create_time"].endswith("Z")
    assert one["log_id"] == (f"{users.server.url}/batches/{doc['batch_id']}/jobs/"
                             f"{job['job_id']}/log")
    assert_json_detail(users.call("GET", f"/batches/{doc['batch_id']}/jobs/{job['job_id']}"
                                         "/log"), 404, "no log yet")
    other = users.create({"tool_id": "echo", "start": False, "args": [{"message": "two"}]})
    assert_json_detail(users.call("GET", f"/batches/{other['batch_id']}/jobs/"
                                         f"{job['job_id']}"), 404, job["job_id"])


def test_another_users_batch_is_404_and_admins_see_every_batch(users):
    doc = users.create({"tool_id": "echo", "start": False, "args": [{"message": "mine"}]})
    batch_id = doc["batch_id"]
    job_id = _jobs(users, batch_id)[0]["job_id"]
    for method, path in (("GET", ""), ("GET", "/jobs"), ("GET", f"/jobs/{job_id}"),
                         ("GET", f"/jobs/{job_id}/log"), ("DELETE", "")):
        assert_json_detail(users.call(method, f"/batches/{batch_id}{path}", "bob"), 404,
                           batch_id)
    assert batch_id not in {b["batch_id"] for b in users.call("GET", "/batches", "bob").json()}
    assert users.call("DELETE", "/batches", "bob").json() == {"deleted": 0}
    assert users.call("GET", f"/batches/{batch_id}", "alice").status_code == 200
    assert batch_id in {b["batch_id"] for b in users.call("GET", "/batches", "ops",
                                                          params={"limit": 10000}).json()}
    assert users.call("GET", f"/batches/{batch_id}/jobs/{job_id}", "ops").status_code == 200
    assert users.call("GET", f"/uws/echo/{job_id}", "bob").status_code == 404
    assert_json_detail(users.call("GET", "/batches/nothing-here"), 404, "nothing-here")


def test_batch_jobs_are_ordinary_uws_and_ocps_jobs_of_the_owner(users):
    doc = users.create({"tool_id": "echo", "start": False, "args": [{"message": "uws"}]})
    job_id = _jobs(users, doc["batch_id"])[0]["job_id"]
    uws = users.call("GET", f"/uws/echo/{job_id}", headers={"Accept": "application/json"})
    assert uws.status_code == 200, uws.text
    assert uws.json()["phase"] == "PENDING" and uws.json()["ownerId"] == "alice"
    listed = users.call("GET", "/uws/echo", headers={"Accept": "application/json"}).json()
    assert job_id in {ref["id"] for ref in listed["jobs"]}
    ocps = users.create({"tool_id": "ocps", "start": False,
                         "args": [{"command": OCPS_COMMAND}]})
    ocps_job = _jobs(users, ocps["batch_id"])[0]["job_id"]
    seen = users.call("GET", f"/api/v1/job/{ocps_job}")
    assert seen.status_code == 200, seen.text
    assert seen.json()["jobId"] == ocps_job and seen.json()["ownerId"] == "alice"
    refused = users.call("POST", "/batches", json={
        "tool_id": "ocps", "args": [{"command": OCPS_COMMAND}, {"command": "rm -rf /"}]})
    assert refused.status_code == 403 and "set 1" in refused.json()["detail"]


def test_start_false_leaves_jobs_pending_until_run_through_uws(users):
    doc = users.create({"tool_id": "echo", "start": False, "args": [{"message": "later"}]})
    assert doc["submitted_jobs"]["SUBMITTED"] == 1
    job_id = _jobs(users, doc["batch_id"])[0]["job_id"]
    time.sleep(0.5)  # the dispatcher leaves it alone
    assert users.call("GET", f"/batches/{doc['batch_id']}").json()["submitted_jobs"][
        "SUBMITTED"] == 1
    assert users.call("POST", f"/uws/echo/{job_id}/phase", data={"PHASE": "RUN"}
                      ).status_code == 303
    _wait_counts(users, doc["batch_id"], "SUCCEEDED", 1)
    job = users.call("GET", f"/batches/{doc['batch_id']}/jobs/{job_id}").json()
    assert job["status"] == "SUCCEEDED" and job["start_time"] and job["stop_time"]
    log = users.call("GET", f"/batches/{doc['batch_id']}/jobs/{job_id}/log")
    assert log.status_code == 200 and log.headers["Content-Type"].startswith("text/plain")


def _wait_counts(users: Users, batch_id: str, status: str, wanted: int,
                 timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    doc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        doc = users.call("GET", f"/batches/{batch_id}").json()
        if doc["submitted_jobs"][status] == wanted:
            return doc
        time.sleep(0.3)
    raise AssertionError(f"{batch_id}: {doc}, wanted {wanted} {status}\n"
                         f"{users.server.log()[-3000:]}")


def test_a_failed_job_is_failed_with_its_reason(users):
    doc = users.create({"tool_id": "sleep", "args": [{"seconds": "60"}]})
    batch_id = doc["batch_id"]
    job_id = _jobs(users, batch_id)[0]["job_id"]
    users.call("POST", f"/uws/sleep/{job_id}/phase", data={"PHASE": "ABORT"})
    _wait_counts(users, batch_id, "FAILED", 1)
    job = users.call("GET", f"/batches/{batch_id}/jobs/{job_id}").json()
    assert job["status"] == "FAILED" and "aborted by alice" in job["reason"]
    assert [j["job_id"] for j in _jobs(users, batch_id, status="FAILED")] == [job_id]


def test_deleting_a_batch_aborts_its_running_jobs_and_removes_jobs_and_files(users):
    doc = users.create({"tool_id": "sleep", "sweep": {"seconds": ["60", "60", "60"]}})
    batch_id = doc["batch_id"]
    job_ids = [job["job_id"] for job in _jobs(users, batch_id)]
    _wait_counts(users, batch_id, "RUNNING", 3)
    assert set(job_ids) <= job_dirs(users.server.data_dir)
    response = users.call("DELETE", f"/batches/{batch_id}")
    assert response.status_code == 204
    assert_json_detail(users.call("GET", f"/batches/{batch_id}"), 404, batch_id)
    for job_id in job_ids:
        assert users.call("GET", f"/uws/sleep/{job_id}").status_code == 404
    deadline = time.monotonic() + 60
    while set(job_ids) & job_dirs(users.server.data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(job_ids) & job_dirs(users.server.data_dir), "job directories left behind"
    log = users.server.log()
    assert all(f"job {job_id} EXECUTING -> ABORTED" in log for job_id in job_ids), log[-3000:]


def test_deleting_all_batches_removes_only_the_callers(users):
    mine = users.create({"tool_id": "echo", "start": False, "args": [{"message": "a"}]})
    theirs = users.create({"tool_id": "echo", "start": False, "args": [{"message": "b"}]},
                          user="bob")
    response = users.call("DELETE", "/batches")
    assert response.status_code == 200 and response.json()["deleted"] >= 1
    assert users.call("GET", "/batches").json() == []
    assert users.call("GET", f"/batches/{mine['batch_id']}").status_code == 404
    assert users.call("GET", f"/batches/{theirs['batch_id']}", "bob").status_code == 200
