"""VOSI 1.1: capabilities and availability, schema-valid and read by pyvo, on both databases."""

from __future__ import annotations

import io

import pytest
import requests
from lxml import etree
from pyvo.io.vosi import parse_availability, parse_capabilities

from tests.ops.test_health import wait_ready
from tests.ops.vosi_schemas import availability_schema, capabilities_schema

CAPABILITIES = ["/capabilities", "/uws/capabilities"]
AVAILABILITY = ["/availability", "/uws/availability"]


def _get(server, path: str) -> bytes:
    response = requests.get(server.url + path, timeout=30)
    assert response.status_code == 200, (path, response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/xml")
    return response.content


@pytest.mark.parametrize("path", CAPABILITIES)
def test_capabilities_are_valid_against_the_vosi_schemas(server, path):
    capabilities_schema().assertValid(etree.fromstring(_get(server, path)))


@pytest.mark.parametrize("path", AVAILABILITY)
def test_availability_is_valid_against_the_vosi_schema(server, path):
    availability_schema().assertValid(etree.fromstring(_get(server, path)))


def test_the_schema_check_rejects_a_capability_with_an_unknown_interface_type(server):
    body = _get(server, "/capabilities").replace(b"vs:ParamHTTP", b"vs:NoSuchType")
    assert not capabilities_schema().validate(etree.fromstring(body))


def test_pyvo_reads_every_job_list_as_a_uws_capability_with_its_access_url(server):
    capabilities = parse_capabilities(io.BytesIO(_get(server, "/capabilities")))
    uws = {cap.interfaces[0].accessurls[0].content for cap in capabilities
           if cap.standardid == "ivo://ivoa.net/std/UWS"}
    lists = {item["href"] for item in requests.get(f"{server.url}/uws", timeout=30
                                                   ).json()["jobLists"]}
    assert uws == lists and f"{server.url}/uws/echo" in uws
    ids = [cap.standardid for cap in capabilities]
    assert "ivo://ivoa.net/std/VOSI#capabilities" in ids
    assert "ivo://ivoa.net/std/VOSI#availability" in ids
    others = {cap.interfaces[0].accessurls[0].content for cap in capabilities
              if cap.standardid is None}
    assert {f"{server.url}/v6/job-types/", f"{server.url}/api/v1/job"} <= others


def test_the_uws_door_lists_its_own_vosi_resources_and_job_lists_only(server):
    capabilities = parse_capabilities(io.BytesIO(_get(server, "/uws/capabilities")))
    urls = {cap.interfaces[0].accessurls[0].content for cap in capabilities}
    assert f"{server.url}/uws/capabilities" in urls and f"{server.url}/uws/availability" in urls
    assert all(url.startswith(f"{server.url}/uws/") for url in urls), urls


@pytest.mark.parametrize("path", AVAILABILITY)
def test_pyvo_reads_availability_true_with_up_since_on_a_running_service(server, path):
    wait_ready(server.url)
    availability = parse_availability(io.BytesIO(_get(server, path)))
    assert availability.available is True
    assert availability.upsince and availability.upsince.endswith("Z")


def test_the_registry_refuses_a_job_type_named_after_a_vosi_resource(client):
    import json

    from uws_server.resources import EXAMPLE_MANIFESTS_DIR

    manifest = json.loads((EXAMPLE_MANIFESTS_DIR / "echo.json").read_text())
    for name in ("capabilities", "availability"):
        manifest["job"]["name"] = name
        verdict = client.post("/v6/job-types/validation/", json={"manifest": manifest}).json
        assert verdict["is_valid"] is False
        assert any(f"/uws/{name}" in error["description"] for error in verdict["errors"]), verdict
