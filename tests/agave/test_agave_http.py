"""``/jobs/v2`` with plain requests: envelopes and refusals, hostile output paths, uploads,
``maxRunTime``, the route agavepy cannot call, and one job read through three doors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.agave.conftest import OCPS_COMMAND, TlsServer, tree_request
from tests.support import ROOT

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
FINAL = {"FINISHED", "FAILED", "STOPPED"}


def _wait(server: TlsServer, job_id: str, wanted: set[str] = FINAL, user: str = "alice"
          ) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = server.request("GET", f"/jobs/v2/{job_id}", user).json()["result"]
        if job["status"] in wanted:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']}:\n{server.log()[-2000:]}")


def _submit(server: TlsServer, body: dict[str, Any], user: str = "alice") -> dict[str, Any]:
    response = server.request("POST", "/jobs/v2/", user, json=body)
    assert response.status_code == 201, response.text
    return response.json()["result"]


def _assert_error(response: requests.Response, status: int, *names: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    doc = response.json()
    assert doc["status"] == "error" and doc["result"] is None and doc["version"]
    message = doc["message"]
    assert message and "\n" not in message and "Traceback" not in message, message
    for name in names:
        assert name.lower() in message.lower(), f"{name!r} not in {message!r}"
    return message


def _job_count(server: TlsServer) -> int:
    return len(server.request("GET", "/jobs/v2/", "alice",
                              params={"limit": 1000}).json()["result"])


@pytest.mark.parametrize(("body", "names"), [
    ({"appId": "tree-2.0.0", "parameters": {"message": "x"}}, ["name"]),
    ({"name": "n", "parameters": {"message": "x"}}, ["appId"]),
    ({**tree_request("n"), "batchQueue": "normal"}, ["batchQueue"]),
    ({**tree_request("n"), "memoryPerNode": "4GB", "archivePath": "/x"},
     ["archivePath", "memoryPerNode"]),
    ({**tree_request("n"), "nodeCount": 4}, ["nodeCount"]),
    ({**tree_request("n"), "processorsPerNode": "many"}, ["processorsPerNode"]),
    ({**tree_request("n"), "archive": True}, ["archive"]),
    ({**tree_request("n"), "maxRunTime": "10 minutes"}, ["maxRunTime", "HH:mm:ss"]),
    ({**tree_request("n"), "colour": "blue"}, ["colour"]),
    ({**tree_request("n"), "parameters": {"message": "x", "nope": "y"}}, ["nope"]),
    ({**tree_request("n"), "parameters": {}}, ["message"]),
    ({**tree_request("n"), "appId": "nothing-1.0"}, ["nothing"]),
    ({**tree_request("n"), "notifications": [{"url": "ftp://x", "event": "*"}]},
     ["notifications[0].url"]),
    ({**tree_request("n"), "notifications": [{"url": "https://example.org/h",
                                              "event": "NOT_A_STATUS"}]},
     ["notifications[0].event"]),
    ({**tree_request("n"), "notifications": [{"url": "https://127.0.0.1/h",
                                              "event": "FINISHED", "persistent": True}]},
     ["notifications[0].url", "refused"]),
])
def test_a_refused_job_request_is_an_error_envelope_naming_the_field_and_writes_nothing(
        tls_server, body, names):
    before = _job_count(tls_server)
    response = tls_server.request("POST", "/jobs/v2/", json=body)
    _assert_error(response, 404 if body.get("appId") == "nothing-1.0" else 400, *names)
    assert _job_count(tls_server) == before


def test_errors_keep_their_status_in_the_envelope(tls_server):
    _assert_error(tls_server.request("GET", "/jobs/v2/", None), 401)
    _assert_error(tls_server.request("GET", "/jobs/v2/" + "0" * 32), 404, "no job")
    _assert_error(tls_server.request("GET", "/jobs/v2/colour/blue"), 404, "colour")
    _assert_error(tls_server.request("GET", "/jobs/v2/", params={"colour.eq": "x"}), 400,
                  "colour")
    _assert_error(tls_server.request("GET", "/jobs/v2/", params={"status.like": "R*"}), 400,
                  "status")
    _assert_error(tls_server.request("GET", "/jobs/v2/status/SLEEPING"), 400, "SLEEPING")
    _assert_error(tls_server.request("GET", "/jobs/v2/", params={"limit": "lots"}), 400,
                  "limit")
    _assert_error(tls_server.request("POST", "/jobs/v2/", data=b"{not json",
                                     headers={"Content-Type": "application/json"}), 400)
    job = _submit(tls_server, tree_request("refusals"))
    _assert_error(tls_server.request("POST", f"/jobs/v2/{job['id']}",
                                     json={"action": "pause"}), 400, "action")
    _assert_error(tls_server.request("POST", f"/jobs/v2/{job['id']}/pems",
                                     json={"username": "bob", "permission": "SOME"}), 400,
                  "permission")
    _assert_error(tls_server.request("POST", f"/jobs/v2/{job['id']}/pems",
                                     json={"username": "nobody", "permission": "READ"}),
                  404, "nobody")


def test_delete_permissions_for_user_removes_only_that_users_grant(tls_server):
    job = _submit(tls_server, tree_request("revoke-one"))
    path = f"/jobs/v2/{job['id']}/pems"
    for user in ("bob", "ops"):
        shared = tls_server.request("POST", path, json={"username": user,
                                                        "permission": "READ"})
        assert shared.status_code == 200, shared.text
    assert tls_server.request("GET", f"/jobs/v2/{job['id']}", "bob").status_code == 200
    refused = tls_server.request("DELETE", f"{path}/bob", "bob")
    _assert_error(refused, 403, "owner")
    gone = tls_server.request("DELETE", f"{path}/bob")
    assert gone.status_code == 200 and gone.json()["status"] == "success"
    assert tls_server.request("GET", f"/jobs/v2/{job['id']}", "bob").status_code == 404
    left = tls_server.request("GET", path).json()["result"]
    assert [p["username"] for p in left] == ["alice", "ops"]


def test_a_form_submission_with_an_uploaded_input_runs_and_resubmits_with_a_copy(tls_server):
    text = b"one two three four"
    response = tls_server.request(
        "POST", "/jobs/v2/", data={"name": "count-words", "appId": "wordcount",
                                   "archive": "false", "maxRunTime": "00:02:03"},
        files={"input": ("words.txt", io.BytesIO(text), "text/plain")})
    assert response.status_code == 201, response.text
    job = response.json()["result"]
    assert job["maxRunTime"] == "00:02:03"
    uws = tls_server.request("GET", f"/uws/wordcount/{job['id']}/executionduration")
    assert uws.text == "123"
    assert _wait(tls_server, job["id"])["status"] == "FINISHED"
    again = tls_server.request("POST", f"/jobs/v2/{job['id']}", json={"action": "resubmit"})
    assert again.status_code == 201, again.text
    copy = again.json()["result"]
    assert _wait(tls_server, copy["id"])["status"] == "FINISHED"
    for one in (job, copy):
        result = tls_server.request("GET", f"/jobs/v2/{one['id']}/outputs/media/result.txt")
        assert result.status_code == 200 and result.text.split()[0] == "4", result.text


def test_hostile_output_paths_answer_404_and_never_leave_the_job(tls_server):
    job = _wait(tls_server, _submit(tls_server, tree_request("hostile", "secret-free"))["id"])
    outputs = tls_server.data_dir / "jobs" / job["id"] / "outputs"
    os.symlink("/etc/passwd", outputs / "sub" / "passwd")
    os.symlink("/etc", outputs / "etc")
    os.symlink(outputs / "sub", outputs / "inside-link")  # even a link that stays inside
    base = f"/jobs/v2/{job['id']}/outputs"
    for sub in ("%2e%2e/%2e%2e/%2e%2e/etc/passwd", "sub/%2e%2e/%2e%2e/stdout.txt",
                "%2Fetc%2Fpasswd", "/etc/passwd", "sub/passwd", "etc/passwd", "etc",
                "inside-link/data.txt", "sub%5C..%5C..%5Cstdout.txt", "nothing.txt"):
        for kind in ("media", "listings"):
            response = tls_server.request("GET", f"{base}/{kind}/{sub}")
            _assert_error(response, 404)
            assert b"root:" not in response.content
    listed = tls_server.request("GET", f"{base}/listings/sub").json()["result"]
    assert [f["name"] for f in listed] == ["data.txt", "deeper"], "symlinks are not listed"
    top = tls_server.request("GET", f"{base}/listings").json()["result"]
    assert [f["name"] for f in top] == ["result.txt", "sub"]


def test_download_answers_ranges_with_206(tls_server):
    job = _wait(tls_server, _submit(tls_server, tree_request("ranges", "0123456789"))["id"])
    url = f"/jobs/v2/{job['id']}/outputs/media/sub/data.txt"
    part = tls_server.request("GET", url, headers={"Range": "bytes=2-5"})
    assert part.status_code == 206 and part.content == b"2345"
    assert part.headers["Content-Range"] == "bytes 2-5/10"
    assert part.headers["Content-Length"] == "4"
    assert tls_server.request("GET", url, "bob").status_code == 404  # not shared with bob


def _instant(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_one_job_read_through_uws_ocps_and_agave_agrees(tls_server):
    created = tls_server.request("PUT", "/api/v1/job", json={"command": OCPS_COMMAND,
                                                             "url": "", "run_id": "doors"})
    assert created.status_code == 200, created.text
    job_id = created.json()["jobId"]
    agave = _wait(tls_server, job_id)
    uws = tls_server.request("GET", f"/uws/ocps/{job_id}",
                             headers={"Accept": "application/json"}).json()
    ocps = tls_server.request("GET", f"/api/v1/job/{job_id}").json()
    assert agave["owner"] == uws["ownerId"] == ocps["ownerId"] == "alice"
    assert (agave["status"], uws["phase"], ocps["phase"]) == ("FINISHED", "COMPLETED",
                                                              "completed")
    assert agave["name"] == uws["runId"] == ocps["runId"] == "doors"
    assert agave["appId"] == "ocps-1.0.0"
    for ours, theirs in (("created", "creationTime"), ("startTime", "startTime"),
                         ("endTime", "endTime")):
        assert _instant(agave[ours]) == _instant(uws[theirs]) == _instant(ocps[theirs]), ours
    listed = tls_server.request("GET", f"/jobs/v2/{job_id}/outputs/listings").json()["result"]
    assert [f["name"] for f in listed] == ["out.txt"]
    ours = tls_server.request("GET", f"/jobs/v2/{job_id}/outputs/media/out.txt").content
    [result] = [r for r in uws["results"] if r["id"] not in ("stdout", "stderr")]
    via_uws = requests.get(result["href"], headers=tls_server.headers("alice"), verify=False,
                           timeout=30).content
    via_ocps = requests.get(ocps["results"][0]["uri"], headers=tls_server.headers("alice"),
                            verify=False, timeout=30).content
    assert ours == via_uws == via_ocps == b"agave\n"


def test_agave_submissions_are_uws_jobs_of_their_type(tls_server):
    name = f"as-uws-{uuid.uuid4().hex[:6]}"
    job = _wait(tls_server, _submit(tls_server, tree_request(name, "both ways"))["id"])
    uws = tls_server.request("GET", f"/uws/tree/{job['id']}",
                             headers={"Accept": "application/json"}).json()
    assert uws["runId"] == name and uws["phase"] == "COMPLETED"
    assert [p["value"] for p in uws["parameters"] if p["id"] == "message"] == ["both ways"]
    listed = tls_server.request("GET", "/uws/tree", headers={"Accept": "application/json"})
    assert job["id"] in {ref["id"] for ref in listed.json()["jobs"]}


@pytest.mark.parametrize(("args", "message"), [
    (["--certfile", "cert.pem"], "go together"),
    (["--certfile", "missing.pem", "--keyfile", "missing.key"], "cannot use"),
])
def test_serve_refuses_incomplete_or_unreadable_tls_files_in_one_line(tmp_path, args, message):
    done = subprocess.run([sys.executable, "-m", "uws_server.cli", "serve", "--data-dir",
                           str(tmp_path / "data"), "--port", "0", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "data").exists(), "nothing created before the refusal"


def test_history_records_parameter_changes_made_through_uws(tls_server):
    created = tls_server.request("POST", "/uws/echo", data={"message": "first", "RUNID": "p"},
                                 allow_redirects=False)
    assert created.status_code == 303, created.text
    job_id = created.headers["Location"].rsplit("/", 1)[-1]
    changed = tls_server.request("POST", f"/uws/echo/{job_id}/parameters",
                                 data={"message": "second"}, allow_redirects=False)
    assert changed.status_code == 303, changed.text
    history = tls_server.request("GET", f"/jobs/v2/{job_id}/history").json()["result"]
    assert [(e["status"], e["kind"], e["createdBy"], e["description"]) for e in history] == [
        ("PENDING", "phase", "alice", "Job created"),
        ("PENDING", "parameters", "alice", "Parameters changed: changed message")]
    job = tls_server.request("GET", f"/jobs/v2/{job_id}").json()["result"]
    assert job["status"] == "PENDING" and job["parameters"] == {"message": "second"}


def test_resubmitting_a_job_whose_upload_is_gone_is_a_409_that_creates_nothing(tls_server):
    response = tls_server.request(
        "POST", "/jobs/v2/", data={"name": "lost-input", "appId": "wordcount"},
        files={"input": ("w.txt", io.BytesIO(b"a b"), "text/plain")})
    assert response.status_code == 201, response.text
    job = _wait(tls_server, response.json()["result"]["id"])
    for path in (tls_server.data_dir / "jobs" / job["id"] / "inputs").rglob("*"):
        if path.is_file():
            path.unlink()
    before = _job_count(tls_server)
    dirs = set((tls_server.data_dir / "jobs").iterdir())
    refused = tls_server.request("POST", f"/jobs/v2/{job['id']}", json={"action": "resubmit"})
    _assert_error(refused, 409, "no longer there")
    assert _job_count(tls_server) == before
    assert set((tls_server.data_dir / "jobs").iterdir()) == dirs
