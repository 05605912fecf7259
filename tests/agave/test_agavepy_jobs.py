"""The real agavepy client (0.9.5) against a live HTTPS server, on SQLite and PostgreSQL.

Every method of its ``jobs`` resource is driven here but ``deletePermissionsForUser``,
whose URL agavepy cannot build (it names the path parameter ``uniqueName``); that
route is called with plain requests in tests/agave/test_agave_http.py.
"""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.agave.conftest import client_for, tree_request, wait_status

FINISHED = {"FINISHED", "FAILED", "STOPPED"}
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_submit_get_status_and_list_show_the_job_through_to_finished(agave, tls_server):
    older = agave.jobs.submit(body=tree_request(_unique("older")))
    job = agave.jobs.submit(body=tree_request(_unique("first"), "hi there"))
    assert job["status"] in {"QUEUED", "RUNNING", "FINISHED"}
    assert job["owner"] == "alice" and job["appId"] == "tree-2.0.0"
    assert job["_links"]["uws"]["href"].endswith(f"/uws/tree/{job['id']}")
    assert wait_status(agave, job["id"], FINISHED) == "FINISHED"
    got = agave.jobs.get(jobId=job["id"])
    assert got["status"] == "FINISHED" and got["parameters"] == {"message": "hi there"}
    assert got["executionSystem"] == "local" and got["startTime"] and got["endTime"]
    assert got["maxRunTime"] == "00:10:00"  # the job type's timeout, as UWS clamps it
    listed = agave.jobs.list()
    assert listed[0]["id"] == job["id"], "newest first"
    page = agave.jobs.list(limit=1, offset=1)
    assert [j["id"] for j in page] == [older["id"]]


def test_history_after_completion_has_creation_and_each_status_with_its_reason(agave):
    job = agave.jobs.submit(body=tree_request(_unique("hist")))
    wait_status(agave, job["id"], FINISHED)
    history = agave.jobs.getHistory(jobId=job["id"])
    assert [entry["status"] for entry in history] == ["PENDING", "QUEUED", "RUNNING",
                                                       "FINISHED"]
    assert history[0]["description"] == "Job created"
    assert "exit code 0" in history[-1]["description"]
    assert history[-1]["createdBy"] == "dispatcher" and history[1]["createdBy"] == "alice"
    page = agave.jobs.getHistory(jobId=job["id"], limit=2, offset=1)
    assert [entry["status"] for entry in page] == ["QUEUED", "RUNNING"]


def test_manage_stop_stops_a_running_job(agave):
    job = agave.jobs.submit(body={"name": _unique("stop"), "appId": "sleep",
                                  "parameters": {"seconds": 60}, "inputs": {},
                                  "archive": False})
    wait_status(agave, job["id"], {"RUNNING"})
    stopped = agave.jobs.manage(jobId=job["id"], body={"action": "stop"})
    assert stopped["status"] == "STOPPED"
    assert agave.jobs.getStatus(jobId=job["id"])["status"] == "STOPPED"
    last = agave.jobs.getHistory(jobId=job["id"])[-1]
    assert last["status"] == "STOPPED" and last["createdBy"] == "alice"


def test_manage_resubmit_makes_a_new_job_with_the_same_parameters_linked_both_ways(agave):
    original = agave.jobs.submit(body=tree_request(_unique("again"), "same words"))
    wait_status(agave, original["id"], FINISHED)
    again = agave.jobs.manage(jobId=original["id"], body={"action": "resubmit"})
    assert again["id"] != original["id"]
    assert again["parameters"] == {"message": "same words"}
    assert again["name"] == original["name"] and again["appId"] == original["appId"]
    assert again["resubmittedFrom"] == original["id"]
    assert again["_links"]["resubmittedFrom"]["href"].endswith(f"/jobs/v2/{original['id']}")
    assert wait_status(agave, again["id"], FINISHED) == "FINISHED"
    links = agave.jobs.get(jobId=original["id"])["_links"]
    assert [link["href"].rsplit("/", 1)[-1] for link in links["resubmissions"]] == [again["id"]]
    old = [e["description"] for e in agave.jobs.getHistory(jobId=original["id"])]
    new = [e["description"] for e in agave.jobs.getHistory(jobId=again["id"])]
    assert f"Resubmit: resubmitted as job {again['id']}" in old
    assert f"Resubmit: resubmitted from job {original['id']}" in new


def test_a_second_users_permissions_change_what_they_can_do_on_every_door(agave, tls_server):
    bob = client_for(tls_server, "bob")
    job = agave.jobs.submit(body={"name": _unique("shared"), "appId": "sleep",
                                  "parameters": {"seconds": 60}, "inputs": {},
                                  "archive": False})
    job_id = job["id"]
    uws = f"/uws/sleep/{job_id}"
    with pytest.raises(requests.HTTPError) as refused:
        bob.jobs.get(jobId=job_id)
    assert refused.value.response.status_code == 404  # no grant: the job does not exist
    assert tls_server.request("GET", uws, "bob").status_code == 404

    agave.jobs.updatePermissions(jobId=job_id, body={"username": "bob", "permission": "READ"})
    assert bob.jobs.get(jobId=job_id)["id"] == job_id
    assert tls_server.request("GET", uws, "bob").status_code == 200
    assert job_id in {j["id"] for j in bob.jobs.list()}
    pems = {p["username"]: p["permission"] for p in agave.jobs.listPermissions(jobId=job_id)}
    assert pems == {"alice": {"read": True, "write": True, "execute": True},
                    "bob": {"read": True, "write": False, "execute": False}}
    for call, kwargs in ((bob.jobs.manage, {"body": {"action": "stop"}}),
                         (bob.jobs.delete, {})):
        with pytest.raises(requests.HTTPError) as refused:
            call(jobId=job_id, **kwargs)
        assert refused.value.response.status_code == 403
    assert tls_server.request("POST", f"{uws}/phase", "bob",
                              data={"PHASE": "ABORT"}).status_code == 403
    with pytest.raises(requests.HTTPError) as refused:  # only the owner shares
        bob.jobs.updatePermissions(jobId=job_id,
                                   body={"username": "bob", "permission": "ALL"})
    assert refused.value.response.status_code == 403

    agave.jobs.updatePermissionsForUser(jobId=job_id, username="bob",
                                        body={"permission": "READ_EXECUTE"})
    [mine] = agave.jobs.listPermissionsForUser(jobId=job_id, username="bob")
    assert mine["permission"] == {"read": True, "write": False, "execute": True}
    assert bob.jobs.manage(jobId=job_id, body={"action": "stop"})["status"] == "STOPPED"
    again = bob.jobs.manage(jobId=job_id, body={"action": "resubmit"})
    assert again["owner"] == "bob"
    bob.jobs.manage(jobId=again["id"], body={"action": "stop"})
    grants = [e for e in agave.jobs.getHistory(jobId=job_id) if e["kind"] == "grant"]
    assert [g["description"] for g in grants] == ["Permission changed: bob: READ",
                                                  "Permission changed: bob: READ_EXECUTE"]

    agave.jobs.deletePermissions(jobId=job_id)
    with pytest.raises(requests.HTTPError) as refused:
        bob.jobs.getStatus(jobId=job_id)
    assert refused.value.response.status_code == 404
    assert [p["username"] for p in agave.jobs.listPermissions(jobId=job_id)] == ["alice"]


def test_list_outputs_of_a_sub_directory_and_download_a_file_with_equal_content(agave):
    job = agave.jobs.submit(body=tree_request(_unique("tree"), "content of data"))
    wait_status(agave, job["id"], FINISHED)
    top = {f["name"]: f["type"] for f in agave.jobs.listOutputs(jobId=job["id"], filePath="")}
    assert top == {"result.txt": "file", "sub": "dir"}
    sub = agave.jobs.listOutputs(jobId=job["id"], filePath="sub")
    assert [(f["name"], f["path"], f["type"]) for f in sub] == [
        ("data.txt", "sub/data.txt", "file"), ("deeper", "sub/deeper", "dir")]
    assert sub[0]["length"] == len("content of data") and sub[0]["mimeType"] == "text/plain"
    assert [f["name"] for f in agave.jobs.listOutputs(jobId=job["id"], filePath="sub",
                                                      limit=1, offset=1)] == ["deeper"]
    # agavepy's own downloadOutput parses every answer as JSON (a file is not): its
    # swagger operation underneath, which builds the same request, returns the response.
    response = agave.all.jobs.downloadOutput(jobId=job["id"], filePath="sub/data.txt",
                                             proxies=None)
    assert response.status_code == 200 and response.content == b"content of data"
    assert response.headers["Content-Length"] == str(len(b"content of data"))
    assert "data.txt" in response.headers["Content-Disposition"]


def test_search_by_status_and_by_name_in_path_and_query_form(agave):
    prefix = _unique("sweep")
    first = agave.jobs.submit(body=tree_request(f"{prefix}-a"))
    second = agave.jobs.submit(body=tree_request(f"{prefix}-b"))
    for job in (first, second):
        wait_status(agave, job["id"], FINISHED)
    by_name = agave.jobs.search(attribute="name", value=f"{prefix}-a")
    assert [j["id"] for j in by_name] == [first["id"]]
    finished = {j["id"] for j in agave.jobs.search(attribute="status", value="FINISHED")}
    assert {first["id"], second["id"]} <= finished
    assert all(j["status"] == "FINISHED"
               for j in agave.jobs.search(attribute="status", value="FINISHED"))
    both = agave.jobs.list(search={"name.like": f"{prefix}*", "status.eq": "FINISHED"})
    assert [j["id"] for j in both] == [second["id"], first["id"]]
    since = agave.jobs.list(search={"name.like": f"{prefix}*",
                                    "created.after": second["created"]})
    assert since == []
    none = agave.jobs.list(search={"name.like": f"{prefix}*", "status.neq": "FINISHED"})
    assert none == []


def test_delete_removes_the_job_and_its_history(agave):
    job = agave.jobs.submit(body=tree_request(_unique("gone")))
    wait_status(agave, job["id"], FINISHED)
    agave.jobs.delete(jobId=job["id"])
    for call in (agave.jobs.get, agave.jobs.getHistory, agave.jobs.getStatus):
        with pytest.raises(requests.HTTPError) as gone:
            call(jobId=job["id"])
        assert gone.value.response.status_code == 404
    assert job["id"] not in {j["id"] for j in agave.jobs.list()}
