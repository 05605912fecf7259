"""Issue 15 item 8: client input that answered 5xx answers 4xx, the same on both databases.

Deep JSON (``RecursionError``), a duration that reaches before year 1 (``OverflowError``),
a 23-digit revision number (SQL integer overflow), NUL in a path segment or in
``docker_image`` (PostgreSQL refuses NUL in text), names and titles longer than their
columns (SQLite stored them, PostgreSQL refused): each a 4xx with one line, nothing written.
"""

from __future__ import annotations

import pytest
import requests

from tests.hardening.edge_kit import deep_json, echo_jobs, job_type_exists, manifest, unique
from tests.support import assert_json_detail, assert_plain_error

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("depth", [100_000, 900])
def test_deeply_nested_json_is_400_at_every_door(server, edge_server, depth):
    deep = deep_json(depth)
    before = echo_jobs(server)
    created = requests.post(server.list_url("echo"), data=f'{{"message": {deep}}}',
                            headers=JSON, allow_redirects=False, timeout=30)
    assert_plain_error(created, 400, "nested")
    assert echo_jobs(server) == before
    job = server.create("echo", {"message": "kept"})
    changed = requests.post(job, data=f'{{"message": {deep}}}', headers=JSON,
                            allow_redirects=False, timeout=30)
    assert_plain_error(changed, 400, "nested")
    assert requests.get(f"{job}/parameters/message", timeout=10).text == "kept"
    name = unique("deep")
    for method, path in [("POST", "/v6/job-types/"), ("POST", "/v6/job-types/validation/"),
                         ("PATCH", "/v6/job-types/echo/1.0.0/")]:
        for body in (f'{{"manifest": {deep}, "docker_image": "x"}}',
                     f'{{"manifest": "{deep}", "docker_image": "x"}}',  # a JSON text in JSON
                     f'{{"manifest": {{"seedVersion": "1.0.0", "job": {{"name": "{name}", '
                     f'"tags": {deep}}}}}, "docker_image": "x"}}'):
            response = requests.request(method, f"{server.url}{path}", data=body, headers=JSON,
                                        timeout=30)
            if response.status_code == 200 and path.endswith("validation/"):  # a bad manifest
                assert response.json()["is_valid"] is False and "nested" in response.text
            else:
                assert_json_detail(response, 400, "nested")
    assert not job_type_exists(server, name)
    ocps = requests.put(f"{edge_server.url}/api/v1/job", headers=JSON, timeout=30,
                        data=f'{{"run_id": "1", "command": "true", "environment": {deep}}}')
    assert_json_detail(ocps, 400, "nested")


def test_an_array_parameter_nested_too_deep_is_400(server):
    name = unique("arr")
    doc = manifest(name)
    doc["job"]["interface"]["inputs"]["json"] = [{"name": "items", "type": "array"}]
    doc["job"]["interface"]["command"] = "/bin/true ${items}"
    registered = requests.post(f"{server.url}/v6/job-types/", timeout=30,
                               json={"manifest": doc, "docker_image": "x:1"})
    assert registered.status_code == 201, registered.text
    response = requests.post(server.list_url(name), data={"items": deep_json(5000)},
                             allow_redirects=False, timeout=30)
    assert_plain_error(response, 400, "items")
    assert server.create(name, {"items": "[1, [2]]"})


@pytest.mark.parametrize("started", ["P5000000W", "P" + "9" * 400 + "D", "PT99999999999999H"])
def test_a_duration_before_year_one_is_400_naming_it(server, started):
    response = requests.get(f"{server.url}/v6/job-types/status/", params={"started": started},
                            timeout=10)
    assert_json_detail(response, 400, "started")


@pytest.mark.parametrize("number", ["12345678901234567890123", "-12345678901234567890123",
                                    "2147483648"])
def test_a_revision_number_beyond_any_column_is_404(server, number):
    response = requests.get(f"{server.url}/v6/job-types/echo/1.0.0/revisions/{number}/",
                            timeout=10)
    assert_json_detail(response, 404, number)
    unknown = requests.get(f"{server.url}/v6/job-types/nothing-here/1.0.0/revisions/{number}/",
                           timeout=10)
    assert_json_detail(unknown, 404, "nothing-here")
    ids = requests.get(f"{server.url}/v6/job-types/", params={"id": number}, timeout=10)
    assert_json_detail(ids, 400, "id")


@pytest.mark.parametrize("path", ["/uws/echo/%00", "/uws/%00", "/uws/echo/%00/phase",
                                  "/v6/job-types/%00/", "/v6/job-types/echo/%00/",
                                  "/api/v1/job/%00", "/uws/echo/a%00b/parameters/x"])
def test_a_nul_in_a_path_segment_is_400(server, path):
    response = requests.get(f"{server.url}{path}", timeout=10)
    if path.startswith("/uws"):
        assert_plain_error(response, 400, "NUL")
    else:
        assert_json_detail(response, 400, "NUL")
    deleted = requests.delete(f"{server.url}{path}", allow_redirects=False, timeout=10)
    assert 400 <= deleted.status_code < 500, deleted.text


def test_a_nul_in_docker_image_is_400_and_stores_nothing(server):
    name = unique("nul")
    posted = requests.post(f"{server.url}/v6/job-types/", timeout=10,
                           json={"manifest": manifest(name), "docker_image": "a\x00b"})
    assert_json_detail(posted, 400, "NUL")
    assert not job_type_exists(server, name)
    patched = requests.patch(f"{server.url}/v6/job-types/echo/1.0.0/", timeout=10,
                             json={"docker_image": "img\x00:1"})
    assert_json_detail(patched, 400, "NUL")
    as_text = requests.post(f"{server.url}/v6/job-types/", timeout=10, json={
        "manifest": f'{{"seedVersion": "1.0.0", "job": {{"name": "{name}\\u0000"}}}}',
        "docker_image": "x"})
    assert_json_detail(as_text, 400, "NUL")
    echo = requests.get(f"{server.url}/v6/job-types/echo/1.0.0/", timeout=10).json()
    assert "\x00" not in echo["docker_image"]


@pytest.mark.parametrize("field", ["name", "title", "jobVersion", "input", "output",
                                   "mediaType"])
def test_names_longer_than_their_column_are_400_on_both_databases(server, field):
    name = unique("long")
    doc = manifest(name)
    job, interface = doc["job"], doc["job"]["interface"]
    if field == "name":
        job["name"] = name + "-" + "n" * 250
    elif field == "title":
        job["title"] = "t" * 256
    elif field == "jobVersion":
        job["jobVersion"] = "1.0.0-" + "a" * 250
    elif field == "input":
        interface["inputs"]["json"][0]["name"] = "m" * 256
        interface["command"] = "/bin/true"
    elif field == "output":
        interface["outputs"]["files"][0]["name"] = "r" * 250
    else:
        interface["outputs"]["files"][0]["mediaType"] = "text/" + "x" * 251
    for path in ("/v6/job-types/", "/v6/job-types/validation/"):
        response = requests.post(f"{server.url}{path}", timeout=10,
                                 json={"manifest": doc, "docker_image": "x:1"})
        if path.endswith("validation/"):
            assert response.status_code == 200 and response.json()["is_valid"] is False
            assert "longer than" in response.text
        else:
            assert_json_detail(response, 400, "longer than")
    assert not job_type_exists(server, job["name"])
    patched = requests.patch(f"{server.url}/v6/job-types/echo/1.0.0/", timeout=10,
                             json={"docker_image": "i" * 256})
    assert_json_detail(patched, 400, "docker_image")
