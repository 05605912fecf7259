"""What registry settings change, seen over HTTP on the live server: pause, deactivate,
versions, secrets; and bad manifests rejected by both validation and POST."""

from __future__ import annotations

import copy
import hashlib
import time

import pytest
import requests

from tests.registry.conftest import manifest, patch, register, sleep_manifest, unique
from tests.support import assert_json_detail as assert_json_error


def _phase(job_url: str) -> str:
    return requests.get(f"{job_url}/phase", timeout=10).text


def test_paused_type_keeps_new_jobs_queued_until_resumed(server):
    name = unique("pause")
    register(server.url, {"manifest": manifest(name), "docker_image": "pause:1"})
    patch(server.url, name, "1.0.0", {"is_paused": True})
    job = server.create(name, data={"message": "later", "PHASE": "RUN"})
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # many dispatcher ticks (0.2 s each)
        assert _phase(job) == "QUEUED"
        time.sleep(0.3)
    pending = requests.get(f"{server.url}/v6/job-types/pending/", timeout=10).json()
    mine = [r for r in pending["results"] if r["job_type"]["name"] == name]
    assert mine and mine[0]["count"] == 1 and mine[0]["longest_pending"].endswith("Z")
    patch(server.url, name, "1.0.0", {"is_paused": False})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    assert requests.get(f"{job}/results/result", timeout=10).text == "later"


def test_inactive_type_refuses_new_jobs_while_running_ones_finish(server):
    name = unique("inactive")
    register(server.url, {"manifest": sleep_manifest(name), "docker_image": "sleep:1"})
    job = server.create(name, data={"seconds": "3", "PHASE": "RUN"})
    server.wait_phase(job, {"EXECUTING"})
    running = requests.get(f"{server.url}/v6/job-types/running/", timeout=10).json()
    mine = [r for r in running["results"] if r["job_type"]["name"] == name]
    assert mine and mine[0]["count"] == 1 and mine[0]["longest_running"].endswith("Z")
    patch(server.url, name, "1.0.0", {"is_active": False})
    refused = requests.post(server.list_url(name), data={"seconds": "1"}, timeout=10,
                            allow_redirects=False)
    assert refused.status_code == 409, refused.text
    assert "not active" in refused.text and name in refused.text
    assert server.wait_phase(job, {"COMPLETED", "ERROR", "ABORTED"}) == "COMPLETED"
    patch(server.url, name, "1.0.0", {"is_active": True})
    server.create(name, data={"seconds": "0"})  # accepted again


def test_jobs_use_the_latest_active_version_unless_version_is_given(server):
    name = unique("versions")
    for version in ("1.0.0", "2.0.0"):
        command = ("${PYTHON} -m uws_server.programs.echo ${OUTPUT_DIR}/result.txt "
                   f"v{version}-${{message}}")
        register(server.url, {"manifest": manifest(name, version, command=command),
                              "docker_image": f"v:{version}"})

    def run(**extra: str) -> str:
        job = server.create(name, data={"message": "x", "PHASE": "RUN", **extra})
        assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
        return requests.get(f"{job}/results/result", timeout=10).text

    assert run() == "v2.0.0-x"
    assert run(VERSION="1.0.0") == "v1.0.0-x"
    patch(server.url, name, "2.0.0", {"is_active": False})
    assert run() == "v1.0.0-x"
    refused = requests.post(server.list_url(name), data={"message": "x", "VERSION": "2.0.0"},
                            timeout=10, allow_redirects=False)
    assert refused.status_code == 409 and "not active" in refused.text


def test_status_counts_jobs_by_status_within_the_time_range(server):
    name = unique("status")
    register(server.url, {"manifest": manifest(name), "docker_image": "status:1"})
    job = server.create(name, data={"message": "hi", "PHASE": "RUN"})
    server.wait_phase(job, {"COMPLETED"})
    url = f"{server.url}/v6/job-types/status/"

    def counts(**params: str) -> list[dict[str, object]]:
        response = requests.get(url, params={"page_size": 1000, **params}, timeout=10)
        assert response.status_code == 200, response.text
        [mine] = [r for r in response.json()["results"] if r["job_type"]["name"] == name]
        return mine["job_counts"]

    [completed] = counts()
    assert completed["status"] == "COMPLETED" and completed["count"] == 1
    assert completed["category"] is None and completed["most_recent"].endswith("Z")
    assert counts(started="PT1H", ended="PT0S")[0]["count"] == 1
    assert counts(started="2000-01-01T00:00:00Z", ended="2000-01-02T00:00:00Z") == []
    assert counts(started="P1D", is_active="true")[0]["count"] == 1
    inactive = requests.get(url, params={"is_active": "false", "page_size": 1000}, timeout=10)
    assert name not in {r["job_type"]["name"] for r in inactive.json()["results"]}
    failures = requests.get(f"{server.url}/v6/job-types/system-failures/", timeout=10)
    assert failures.status_code == 200 and set(failures.json()) == {
        "count", "next", "previous", "results"}


SECRET = "s3cr3t-Hunter2-value"


def test_secret_settings_reach_the_job_but_no_response_or_log_line(server):
    name = unique("secret")
    script = ("import os,hashlib,sys; open(sys.argv[1],'w').write("
              "hashlib.sha256(os.environ['DB_PASS'].encode()).hexdigest() + ' ' + "
              "os.environ['DB_HOST'])")
    body = {
        "manifest": manifest(name, command=f'${{PYTHON}} -c "{script}" ${{OUTPUT_DIR}}/result.txt',
                             inputs=[], settings=[{"name": "DB_HOST", "secret": False},
                                                  {"name": "DB_PASS", "secret": True}]),
        "docker_image": "secret:1",
        "configuration": {"settings": {"DB_HOST": "db.example.org", "DB_PASS": SECRET},
                          "priority": 5},
    }
    responses = []

    def keep(response: requests.Response) -> requests.Response:
        responses.append(response)
        return response

    keep(requests.post(f"{server.url}/v6/job-types/validation/", json=body, timeout=10))
    created = keep(requests.post(f"{server.url}/v6/job-types/", json=body, timeout=10))
    assert created.status_code == 201, created.text
    assert created.json()["configuration"]["settings"] == {"DB_HOST": "db.example.org",
                                                           "DB_PASS": "*****"}
    detail_url = f"{server.url}/v6/job-types/{name}/1.0.0/"
    detail = keep(requests.get(detail_url, timeout=10)).json()
    # a configuration read back and PATCHed unchanged keeps the stored secret
    keep(requests.patch(detail_url, json={"configuration": detail["configuration"]}, timeout=10))
    # a wrongly typed secret: the error names the field, never the value
    wrong = copy.deepcopy(body)
    wrong["configuration"]["settings"]["DB_PASS"] = [SECRET]
    bad = keep(requests.patch(detail_url, json={"configuration": wrong["configuration"]},
                              timeout=10))
    assert_json_error(bad, 400, "configuration.settings.DB_PASS")
    unknown = {"settings": {"DB_PASS": SECRET, "NOT_DECLARED": SECRET}}
    keep(requests.post(f"{server.url}/v6/job-types/validation/",
                       json={"manifest": body["manifest"], "configuration": unknown}, timeout=10))
    job = server.create(name, data={"PHASE": "RUN"})
    assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
    result = keep(requests.get(f"{job}/results/result", timeout=10)).text
    assert result == hashlib.sha256(SECRET.encode()).hexdigest() + " db.example.org"
    for url in (job, f"{job}?format=json", f"{server.url}/v6/job-types/",
                f"{server.url}/v6/job-types/{name}/", f"{detail_url}revisions/",
                f"{detail_url}revisions/1/", f"{server.url}/v6/job-types/status/",
                f"{server.url}/v6/job-type-names/"):
        keep(requests.get(url, timeout=10))
    assert len(responses) >= 15
    for response in responses:
        assert SECRET not in response.text, response.url
        assert SECRET not in str(response.headers)
    assert SECRET not in server.log()
    assert name in server.log()  # the log did see the registration


BASE = manifest("reg-bad")


def _variant(edit) -> dict[str, object]:
    doc = copy.deepcopy(BASE)
    edit(doc["job"])
    return doc


BAD_MANIFESTS = [
    (_variant(lambda j: j.pop("jobVersion")), "job", "jobVersion"),
    (_variant(lambda j: j.update(name="Bad Name!")), "job.name", "does not match"),
    (_variant(lambda j: j["interface"]["inputs"]["json"].append(
        {"name": "message", "type": "string"})), "job.interface.inputs.message", "duplicate"),
    (_variant(lambda j: j["interface"]["outputs"]["files"].append(
        {"name": "result", "pattern": "x"})), "job.interface.outputs.result", "duplicate"),
    (_variant(lambda j: j["interface"].update(mounts=[
        {"name": "m", "path": "/a"}, {"name": "m", "path": "/b"}])),
     "job.interface.mounts.m", "duplicate"),
    (_variant(lambda j: j["interface"].update(settings=[{"name": "S"}, {"name": "S"}])),
     "job.interface.settings.S", "duplicate"),
    (_variant(lambda j: j.update(errors=[{"code": 1, "name": "e"}, {"code": 2, "name": "e"}])),
     "job.errors.e", "duplicate"),
    (_variant(lambda j: j.update(resources={"scalar": [{"name": "gpus", "value": 1.5}]})),
     "job.resources.scalar[0].value", "whole number"),
    (_variant(lambda j: j["interface"].update(mounts=[{"name": "m", "path": "relative/p"}])),
     "job.interface.mounts[0].path", "absolute"),
    (_variant(lambda j: j["interface"].update(mounts=[{"name": "m", "path": "/a/../etc"}])),
     "job.interface.mounts[0].path", ".."),
    (_variant(lambda j: j.update(name="status")), "job.name", "reserved"),
    (_variant(lambda j: j.update(errors=[{"code": "x"}])), "job.errors[0].code", "integer"),
]


@pytest.mark.parametrize(("bad", "path", "rule"), BAD_MANIFESTS,
                         ids=[f"{p}-{r}" for _, p, r in BAD_MANIFESTS])
def test_bad_manifest_is_rejected_by_validation_and_post_naming_path_and_rule(
        server, bad, path, rule):
    checked = requests.post(f"{server.url}/v6/job-types/validation/",
                            json={"manifest": bad}, timeout=10)
    assert checked.status_code == 200
    doc = checked.json()
    assert doc["is_valid"] is False
    assert any(e["name"] == path and rule.lower() in e["description"].lower()
               for e in doc["errors"]), doc["errors"]
    posted = requests.post(f"{server.url}/v6/job-types/",
                           json={"manifest": bad, "docker_image": "bad:1"}, timeout=10)
    assert_json_error(posted, 400, path)
    assert posted.json()["errors"] == doc["errors"]


def test_missing_error_name_is_a_warning_and_filled_from_the_code(server):
    name = unique("errname")
    doc = manifest(name, errors=[{"code": 3, "title": "Bad input", "category": "data"}])
    checked = requests.post(f"{server.url}/v6/job-types/validation/", json={"manifest": doc},
                            timeout=10).json()
    assert checked["is_valid"] is True
    assert {"name": "job.errors[0].name",
            "description": "missing (Seed 1.0.0 requires it); named 'error-3' from its code"} \
        in checked["warnings"]
    stored = register(server.url, {"manifest": doc, "docker_image": "e:1"})
    assert stored["manifest"]["job"]["errors"][0]["name"] == "error-3"
    # posting the same (unnamed) manifest again is no new revision
    assert register(server.url, {"manifest": doc, "docker_image": "e:1"}, 200)["revision_num"] == 1


def test_post_needs_manifest_and_image(server):
    assert_json_error(requests.post(f"{server.url}/v6/job-types/", json={"docker_image": "x"},
                                    timeout=10), 400, "manifest")
    response = requests.post(f"{server.url}/v6/job-types/",
                             json={"manifest": manifest(unique("noimage"))}, timeout=10)
    assert_json_error(response, 400, "docker_image")
    assert_json_error(requests.post(f"{server.url}/v6/job-types/", json=[1], timeout=10), 400)
    checked = requests.post(f"{server.url}/v6/job-types/validation/", json={}, timeout=10)
    assert checked.json()["errors"][0]["name"] == "manifest"
