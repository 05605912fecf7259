"""Every registry endpoint and query parameter over HTTP, on a live server (both databases)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.registry.conftest import (
    DOC_001,
    DOC_002,
    example_body,
    keys_of,
    manifest,
    patch,
    register,
    response_keys,
    unique,
)
from tests.support import assert_json_detail as assert_json_error


def get(url: str, **params: object) -> requests.Response:
    return requests.get(url, params=params, timeout=30)


@pytest.fixture(scope="module")
def family(server) -> dict[str, object]:
    """Two names: ``alpha`` with versions 1.2.0, 1.10.0 and 1.9.0; ``beta`` with one."""
    alpha, beta = unique("alpha"), unique("beta")
    ids = {}
    for version, icon in (("1.2.0", "f001"), ("1.10.0", "f010"), ("1.9.0", "f009")):
        doc = register(server.url, {"manifest": manifest(alpha, version, tags=("sky", "optical")),
                                    "docker_image": f"alpha:{version}", "icon_code": icon})
        ids[version] = doc["id"]
    doc = register(server.url, {"manifest": manifest(beta, tags=("radio",)),
                                "docker_image": "beta:1", "is_active": False})
    ids["beta"] = doc["id"]
    return {"alpha": alpha, "beta": beta, "ids": ids}


def test_job_type_names_groups_versions_and_picks_the_latest_by_semver(server, family):
    alpha = family["alpha"]
    body = get(f"{server.url}/v6/job-type-names/", keyword=alpha).json()
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    [item] = body["results"]
    assert item["name"] == alpha
    assert item["versions"] == ["1.2.0", "1.9.0", "1.10.0"]
    assert item["latest_version"] == "1.10.0" and item["num_versions"] == 3
    assert item["icon_code"] == "f010"
    assert set(response_keys(DOC_002, "GET http://.../v6/job-type-names/")) <= keys_of(body)
    # without the slash, no redirect; is_active, is_system, id and order filter here too
    names = get(f"{server.url}/v6/job-type-names", keyword=["sky", "radio"], is_active="false")
    assert [r["name"] for r in names.json()["results"]] == [family["beta"]]
    by_id = get(f"{server.url}/v6/job-type-names/", id=family["ids"]["1.2.0"], is_system="false")
    assert [r["name"] for r in by_id.json()["results"]] == [alpha]
    ordered = get(f"{server.url}/v6/job-type-names/", keyword=["sky", "radio"],
                  order="-num_versions").json()["results"]
    assert [r["name"] for r in ordered] == [alpha, family["beta"]]


def test_job_types_list_filters_by_keyword_id_active_and_system(server, family):
    url = f"{server.url}/v6/job-types/"
    alpha, beta = family["alpha"], family["beta"]
    found = get(url, keyword="optical").json()
    assert {r["name"] for r in found["results"]} == {alpha}
    assert found["count"] == 3
    both = get(url, keyword=["optical", "radio"]).json()  # repeated keyword: any of them
    assert {r["name"] for r in both["results"]} == {alpha, beta}
    ids = family["ids"]
    chosen = get(url, id=[ids["1.2.0"], ids["beta"]]).json()["results"]
    assert sorted(r["id"] for r in chosen) == sorted([ids["1.2.0"], ids["beta"]])
    inactive = get(url, keyword=["optical", "radio"], is_active="false").json()["results"]
    assert [r["name"] for r in inactive] == [beta]
    active = get(url, keyword=["optical", "radio"], is_active="true").json()["results"]
    assert {r["name"] for r in active} == {alpha}
    assert get(url, keyword=alpha, is_system="true").json()["count"] == 0
    assert get(url, keyword=alpha, is_system="false").json()["count"] == 3
    doc_keys = response_keys(DOC_002, "GET http://.../v6/job-types/")
    assert doc_keys <= keys_of(found), doc_keys - keys_of(found)


def test_job_types_order_sorts_by_several_fields_and_dash_reverses(server, family):
    url = f"{server.url}/v6/job-types/"
    terms = ["optical", "radio"]
    by_version = get(url, keyword=terms, order=["name", "version"]).json()["results"]
    alpha_versions = [r["version"] for r in by_version if r["name"] == family["alpha"]]
    assert alpha_versions == ["1.2.0", "1.9.0", "1.10.0"]  # semantic, not text, order
    reverse = get(url, keyword=terms, order=["-name", "-version"]).json()["results"]
    assert [(r["name"], r["version"]) for r in reverse] == \
        [(r["name"], r["version"]) for r in reversed(by_version)]
    icons = get(url, keyword="optical", order="-icon_code").json()["results"]
    assert [r["icon_code"] for r in icons] == ["f010", "f009", "f001"]
    mixed = get(url, keyword=terms, order=["-is_active", "-version"]).json()["results"]
    assert [r["version"] for r in mixed] == ["1.10.0", "1.9.0", "1.2.0", "1.0.0"]


def test_pages_link_to_each_other_and_page_size_is_honoured(server, family):
    url = f"{server.url}/v6/job-types/"
    first = get(url, keyword="optical", order="version", page_size=2).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["previous"] is None
    assert "page=2" in first["next"] and "keyword=optical" in first["next"]
    second = requests.get(first["next"], timeout=30).json()
    assert [r["version"] for r in second["results"]] == ["1.10.0"]
    assert second["next"] is None and "page=1" in second["previous"]
    assert get(url, keyword="optical", page=5).json()["results"] == []
    assert len(get(url, page_size=1).json()["results"]) == 1
    assert get(url, page_size=1000).status_code == 200


@pytest.mark.parametrize(("path", "params", "names"), [
    ("job-types/", {"page": "0"}, ["page"]),
    ("job-types/", {"page_size": "5000"}, ["page_size"]),
    ("job-types/", {"page_size": "0"}, ["page_size"]),
    ("job-types/", {"page": "two"}, ["page"]),
    ("job-types/", {"order": "colour"}, ["order", "colour"]),
    ("job-types/", {"order": "-colour"}, ["order", "colour"]),
    ("job-types/", {"is_active": "maybe"}, ["is_active"]),
    ("job-types/", {"is_system": "perhaps"}, ["is_system"]),
    ("job-types/", {"id": "seven"}, ["id"]),
    ("job-type-names/", {"order": "version"}, ["order"]),
    ("job-type-names/", {"page_size": "1001"}, ["page_size"]),
    ("job-types/status/", {"started": "yesterday"}, ["started"]),
    ("job-types/status/", {"ended": "2015-13-45T00:00:00Z"}, ["ended"]),
    ("job-types/status/", {"started": "2030-01-01T00:00:00Z",
                           "ended": "2020-01-01T00:00:00Z"}, ["started"]),
    ("job-types/status/", {"is_active": "maybe"}, ["is_active"]),
    ("job-types/pending/", {"page": "-1"}, ["page"]),
    ("job-types/running/", {"page_size": "x"}, ["page_size"]),
    ("job-types/system-failures/", {"page": "0"}, ["page"]),
    ("job-types/echo/", {"is_active": "maybe"}, ["is_active"]),
    ("job-types/echo/1.0.0/revisions/", {"page_size": "5000"}, ["page_size"]),
])
def test_bad_query_parameters_are_400_naming_the_parameter(server, path, params, names):
    assert_json_error(get(f"{server.url}/v6/{path}", **params), 400, *names)


def test_versions_details_and_revisions(server, family):
    alpha = family["alpha"]
    versions = get(f"{server.url}/v6/job-types/{alpha}/").json()
    assert [r["version"] for r in versions["results"]] == ["1.10.0", "1.9.0", "1.2.0"]
    assert response_keys(DOC_002, "GET http://.../v6/job-types/{name}/") <= keys_of(versions)
    assert get(f"{server.url}/v6/job-types/{alpha}", is_active="false").json()["count"] == 0
    detail = get(f"{server.url}/v6/job-types/{alpha}/1.9.0/").json()
    assert detail["manifest"]["job"]["jobVersion"] == "1.9.0"
    assert detail["docker_image"] == "alpha:1.9.0" and detail["revision_num"] == 1
    assert detail["max_tries"] == 3 and detail["configuration"] == {}
    documented = response_keys(DOC_002, "GET http://.../v6/job-types/{name}/{version}/")
    assert documented <= set(detail), documented - set(detail)
    # a new image is a new revision; the same manifest and image again changes nothing
    changed = manifest(alpha, "1.9.0", title="Alpha, retitled")
    assert register(server.url, {"manifest": changed, "docker_image": "alpha:1.9.0"}
                    )["revision_num"] == 2
    assert register(server.url, {"manifest": changed, "docker_image": "alpha:1.9.1"}
                    )["revision_num"] == 3
    again = register(server.url, {"manifest": changed, "docker_image": "alpha:1.9.1"}, 200)
    assert again["revision_num"] == 3
    revisions = get(f"{server.url}/v6/job-types/{alpha}/1.9.0/revisions/").json()
    assert [r["revision_num"] for r in revisions["results"]] == [3, 2, 1]
    assert [r["docker_image"] for r in revisions["results"]] == \
        ["alpha:1.9.1", "alpha:1.9.0", "alpha:1.9.0"]
    for source in (DOC_001, DOC_002):
        line = "GET http://.../v6/job-types/{name}/{version}/revisions/"
        assert response_keys(source, line) <= keys_of(revisions)
    old = get(f"{server.url}/v6/job-types/{alpha}/1.9.0/revisions/1").json()
    assert old["manifest"]["job"]["title"] != "Alpha, retitled"  # old revisions stay readable
    assert old["job_type"]["latest_version"] == "1.10.0"
    line = "GET http://.../v6/job-types/{name}/{version}/revisions/{revision_num}/"
    for source in (DOC_001, DOC_002):
        assert response_keys(source, line) <= keys_of(old)
    paged = get(f"{server.url}/v6/job-types/{alpha}/1.9.0/revisions/", page_size=1, page=2)
    assert [r["revision_num"] for r in paged.json()["results"]] == [2]


@pytest.mark.parametrize("path", [
    "job-types/reg-nothing-here/", "job-types/reg-nothing-here/1.0.0/",
    "job-types/echo/9.9.9/", "job-types/echo/9.9.9/revisions/",
    "job-types/echo/1.0.0/revisions/99/", "job-types/echo/1.0.0/revisions/0/",
])
def test_unknown_job_type_version_or_revision_is_404(server, path):
    assert_json_error(get(f"{server.url}/v6/{path}"), 404)
    response = requests.patch(f"{server.url}/v6/job-types/reg-nothing-here/1.0.0/",
                              json={"is_paused": True}, timeout=30)
    assert_json_error(response, 404, "reg-nothing-here")


def test_wrong_method_and_unknown_path_answer_json(server):
    response = requests.delete(f"{server.url}/v6/job-types/", timeout=30)
    assert_json_error(response, 405)
    assert "GET" in response.headers["Allow"]
    assert_json_error(get(f"{server.url}/v6/nothing/here/"), 404)
    bad = requests.post(f"{server.url}/v6/job-types/", data="{not json",
                        headers={"Content-Type": "application/json"}, timeout=30)
    assert_json_error(bad, 400, "body")


def test_documented_post_example_registers_with_201_and_location(server):
    body = example_body("POST http://.../v6/job-types/")
    name = unique("doc")
    body["manifest"]["job"]["name"] = name
    response = requests.post(f"{server.url}/v6/job-types/", json=body, timeout=30)
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"{server.url}/v6/job-types/{name}/1.0.0/"
    doc = response.json()
    documented = response_keys(DOC_002, "POST http://.../v6/job-types/")
    assert documented <= set(doc), documented - set(doc)
    assert doc["icon_code"] == "f1c5" and doc["max_scheduled"] == 1
    assert doc["docker_image"] == "test-1.0.0-seed:1.0.0" and doc["revision_num"] == 1
    # errors[].name, missing in the example, is filled from the code (see docs/registry.md)
    assert [e["name"] for e in doc["manifest"]["job"]["errors"]] == ["error-1", "error-2"]
    assert doc["configuration"]["mounts"] == body["configuration"]["mounts"]
    assert doc["configuration"]["settings"] == {"DB_HOST": "som.host.name", "DB_PASS": "*****"}
    assert requests.get(response.headers["Location"], timeout=30).json()["id"] == doc["id"]
    # 001's example (configuration "version": "6") adds nothing new but its settings
    older = example_body("POST http://.../v6/job-types/", DOC_001)
    older["manifest"]["job"]["name"] = name
    assert register(server.url, older, 200)["id"] == doc["id"]


def test_documented_validation_examples_are_valid_with_warnings(server):
    name = unique("valid")
    for source in (DOC_001, DOC_002):
        body = example_body("POST http://.../v6/job-types/validation/", source)
        body["manifest"]["job"]["name"] = name
        response = requests.post(f"{server.url}/v6/job-types/validation/", json=body, timeout=30)
        assert response.status_code == 200
        doc = response.json()
        assert set(doc) == {"is_valid", "errors", "warnings"}
        assert doc["is_valid"] is True and doc["errors"] == []
        names = {w["name"] for w in doc["warnings"]}
        assert {"job.errors[0].name", "job.errors[1].name"} <= names
        assert all(set(w) == {"name", "description"} for w in doc["warnings"])
    assert_json_error(get(f"{server.url}/v6/job-types/{name}/"), 404)  # nothing was saved


def test_documented_patch_examples_edit_and_answer_a_validation(server):
    name = unique("patch")
    body = example_body("POST http://.../v6/job-types/")
    body["manifest"]["job"]["name"] = name
    register(server.url, body)
    for source in (DOC_002, DOC_001):
        body = example_body("PATCH http://.../v6/job-types/test/1.0.0/", source)
        response = patch(server.url, name, "1.0.0", body)
        doc = response.json()
        assert doc["is_valid"] is True and doc["errors"] == []
        assert response_keys(DOC_002, "PATCH http://.../v6/job-types/test/1.0.0/") <= \
            set(doc) | {"name", "description"}
        assert set(doc) == {"is_valid", "errors", "warnings"}
    detail = get(f"{server.url}/v6/job-types/{name}/1.0.0/").json()
    assert detail["icon_code"] == "012F" and detail["is_published"] is True
    assert detail["configuration"]["version"] == "6"  # 001's example, applied last


def test_patch_changes_fields_timestamps_and_adds_revisions(server):
    name = unique("edit")
    created = register(server.url, {"manifest": manifest(name), "docker_image": "edit:1"})
    assert created["paused"] is None and created["deprecated"] is None
    patch(server.url, name, "1.0.0", {"is_paused": True, "max_scheduled": 4, "max_tries": 5,
                                      "icon_code": "f111", "is_published": True})
    doc = get(f"{server.url}/v6/job-types/{name}/1.0.0/").json()
    assert doc["is_paused"] is True and doc["paused"] is not None
    assert (doc["max_scheduled"], doc["max_tries"], doc["icon_code"]) == (4, 5, "f111")
    assert doc["last_modified"] >= created["last_modified"]
    patch(server.url, name, "1.0.0", {"is_paused": False, "max_scheduled": None,
                                      "is_active": False})
    doc = get(f"{server.url}/v6/job-types/{name}/1.0.0/").json()
    assert doc["paused"] is None and doc["max_scheduled"] is None
    assert doc["is_active"] is False and doc["deprecated"] is not None
    patch(server.url, name, "1.0.0", {"is_active": True})
    assert get(f"{server.url}/v6/job-types/{name}/1.0.0/").json()["deprecated"] is None
    # a new manifest (as a JSON string, as the documents type it) or image is a new revision
    changed = manifest(name, title="Edited title")
    patch(server.url, name, "1.0.0", {"manifest": json.dumps(changed)})
    patch(server.url, name, "1.0.0", {"docker_image": "edit:2"})
    doc = get(f"{server.url}/v6/job-types/{name}/1.0.0/").json()
    assert (doc["revision_num"], doc["title"], doc["docker_image"]) == (3, "Edited title",
                                                                        "edit:2")
    # the manifest of a PATCH must be the same name and version
    other = patch(server.url, name, "1.0.0", {"manifest": manifest(name, "2.0.0")}, 400)
    assert other.json()["errors"][0]["name"] == "manifest"


@pytest.mark.parametrize(("body", "field"), [
    ({"is_paused": "yes"}, "is_paused"),
    ({"max_scheduled": 0}, "max_scheduled"),
    ({"max_scheduled": 1.5}, "max_scheduled"),
    ({"max_tries": 0}, "max_tries"),
    ({"icon_code": 7}, "icon_code"),
    ({"docker_image": ""}, "docker_image"),
    ({"colour": "red"}, "colour"),
    ({"configuration": {"priority": "high"}}, "configuration.priority"),
    ({"configuration": {"settings": {"NOPE": "x"}}}, "configuration.settings.NOPE"),
    ({"configuration": {"mounts": {"m": {"type": "nfs"}}}}, "configuration.mounts.m"),
    ({"configuration": []}, "configuration"),
])
def test_patch_with_bad_fields_is_400_and_changes_nothing(server, body, field):
    name = unique("badpatch")
    register(server.url, {"manifest": manifest(name), "docker_image": "bad:1"})
    before = get(f"{server.url}/v6/job-types/{name}/1.0.0/").json()
    response = requests.patch(f"{server.url}/v6/job-types/{name}/1.0.0/", json=body, timeout=30)
    assert_json_error(response, 400, field)
    assert field in [e["name"] for e in response.json()["errors"]]
    assert get(f"{server.url}/v6/job-types/{name}/1.0.0/").json() == before
