"""Issue 15 item 6: a web page of another site can neither register a job type nor run one.

JSON doors (``/v6``, ``/api/v1``) take only a JSON media type (415): a cross-site form or
``fetch`` without a preflight can send ``text/plain`` or a form, never ``application/json``.
A state-changing request carrying a foreign ``Origin`` is 403 naming it; clients that send
no ``Origin`` (curl, pyvo, the OCPS CSC) and the service's own origins pass.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.hardening.conftest import EDGE_ORIGIN
from tests.hardening.edge_kit import echo_jobs, job_type_exists, manifest, unique
from tests.support import assert_json_detail, assert_plain_error

ATTACKER = "http://attacker.example"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_manifest_posted_in_a_non_json_media_type_is_415_and_registers_nothing(
        server, content_type):
    name = unique("pwn")
    body = json.dumps({"manifest": manifest(name), "docker_image": "pwn:1"})
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/v6/job-types/", "/v6/job-types/validation/"):
        response = requests.post(f"{server.url}{path}", data=body.encode(), headers=headers,
                                 timeout=10)
        assert_json_detail(response, 415, "application/json")
    patched = requests.patch(f"{server.url}/v6/job-types/echo/1.0.0/",
                             data=b'{"is_paused": true}', headers=headers, timeout=10)
    assert_json_detail(patched, 415, "application/json")
    assert not job_type_exists(server, name)
    echo = requests.get(f"{server.url}/v6/job-types/echo/1.0.0/", timeout=10).json()
    assert echo["is_paused"] is False


def test_an_ocps_job_sent_as_text_is_415(server):
    response = requests.put(f"{server.url}/api/v1/job", data=b'{"command": "true"}',
                            headers={"Content-Type": "text/plain"}, timeout=10)
    assert_json_detail(response, 415, "application/json")


def test_a_foreign_origin_can_neither_create_nor_run_nor_delete_a_job(server):
    before = echo_jobs(server)
    evil = {"Origin": ATTACKER}
    created = requests.post(server.list_url("echo"), data={"message": "pwn", "PHASE": "RUN"},
                            headers=evil, allow_redirects=False, timeout=10)
    assert_plain_error(created, 403, ATTACKER)
    assert echo_jobs(server) == before
    job = server.create("echo", {"message": "mine"})
    for method, url, data in [("POST", f"{job}/phase", {"PHASE": "RUN"}),
                              ("POST", job, {"PHASE": "RUN"}),
                              ("POST", f"{job}/executionduration", {"EXECUTIONDURATION": "5"}),
                              ("PUT", f"{job}/parameters/message", {"message": "changed"}),
                              ("DELETE", job, None)]:
        response = requests.request(method, url, data=data, headers=evil,
                                    allow_redirects=False, timeout=10)
        assert_plain_error(response, 403, ATTACKER)
    assert requests.get(f"{job}/phase", timeout=10).text == "PENDING"
    assert requests.get(f"{job}/parameters/message", timeout=10).text == "mine"
    registered = requests.post(f"{server.url}/v6/job-types/", headers=evil, timeout=10,
                               json={"manifest": manifest(unique("evil")), "docker_image": "x"})
    assert_json_detail(registered, 403, ATTACKER)
    for origin in ("null", "http://127.0.0.1.attacker.example", "file://"):
        response = requests.post(f"{job}/phase", data={"PHASE": "RUN"},
                                 headers={"Origin": origin}, allow_redirects=False, timeout=10)
        assert_plain_error(response, 403, origin)


def test_clients_without_origin_and_the_services_own_origin_are_served(server):
    job = server.create("echo", {"message": "curl"})  # no Origin, as curl and pyvo send
    own = {"Origin": server.url}
    response = requests.post(f"{job}/phase", data={"PHASE": "RUN"}, headers=own,
                             allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    localhost = server.url.replace("127.0.0.1", "localhost")
    response = requests.post(f"{job}/phase", data={"PHASE": "ABORT"},
                             headers={"Origin": localhost}, allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    # reads carry no risk: a foreign Origin may GET
    assert requests.get(job, headers={"Origin": ATTACKER}, timeout=10).status_code == 200
    checked = requests.post(f"{server.url}/v6/job-types/validation/", timeout=10,
                            json={"manifest": manifest(unique("ok")), "docker_image": "x"})
    assert checked.status_code == 200 and checked.json()["is_valid"] is True
    # a +json media type is JSON too
    typed = requests.post(f"{server.url}/v6/job-types/validation/", timeout=10,
                          data=json.dumps({"manifest": manifest(unique("ok"))}),
                          headers={"Content-Type": "application/vnd.scale+json"})
    assert typed.status_code == 200, typed.text


def test_an_origin_listed_in_allowed_origins_may_change_jobs(edge_server):
    response = requests.post(edge_server.list_url("echo"), data={"message": "portal"},
                             headers={"Origin": EDGE_ORIGIN}, allow_redirects=False,
                             timeout=10)
    assert response.status_code == 303, response.text
    other = requests.post(edge_server.list_url("echo"), data={"message": "portal"},
                          headers={"Origin": "https://portal.example.org.attacker.example"},
                          allow_redirects=False, timeout=10)
    assert_plain_error(other, 403, "portal.example.org.attacker.example")
