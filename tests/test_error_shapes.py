"""One error shape per front door, whatever produced the error (docs: uws.md, registry.md,
ocps.md): text/plain (or ``{"error", "status"}`` on request) for ``/uws`` and the root,
``{"detail"}`` for ``/v6`` and ``/api/v1``. In process (``client``), on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import TestResponse

LIMIT = 4096  # the request-size limit of these tests' service (bytes)
TOO_LARGE = "x" * (LIMIT * 2)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """A small request limit, and OCPS allow-lists so that PUT /api/v1/job reads its body."""
    return {"max_request_bytes": LIMIT, "ocps_allowed_commands": "true",
            "ocps_allowed_repos": "https://example.org/repo"}


def assert_text(response: TestResponse, status: int, *names: str) -> None:
    """One ``text/plain`` line with ``status`` naming each of ``names``, no trace."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.mimetype == "text/plain", response.headers
    text = response.text.strip()
    assert text and "\n" not in text and "Traceback" not in text, text
    for name in names:
        assert name.lower() in text.lower(), (name, text)


def assert_detail(response: TestResponse, status: int, *names: str) -> dict[str, Any]:
    """A JSON ``{"detail": one line}`` with ``status`` naming each of ``names``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.mimetype == "application/json", response.headers
    doc = response.get_json()
    assert isinstance(doc, dict) and "error" not in doc and "status" not in doc, doc
    detail = doc["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail, doc
    assert "Traceback" not in detail, detail
    for name in names:
        assert name.lower() in detail.lower(), (name, detail)
    return doc


# -- /uws (and the root): one line of text; JSON only when asked for ------------------------
@pytest.mark.parametrize("path", ["/uws/nothing-here", "/uws/echo/0123abcd/nothing",
                                  "/nothing", "/v6x/job-types/", "/api/v1x/job"])
def test_uws_and_root_404_is_one_line_of_text(client, path):
    assert_text(client.get(path), 404)


def test_uws_405_is_text_with_allow(client):
    response = client.delete("/uws/echo")
    assert_text(response, 405)
    assert "POST" in response.headers["Allow"] and "GET" in response.headers["Allow"]


def test_uws_413_is_text_naming_the_limit(client):
    assert_text(client.post("/uws/echo", data={"message": TOO_LARGE}), 413, str(LIMIT))


def test_uws_400_is_text_naming_the_parameter(client):
    assert_text(client.post("/uws/sleep", data={"seconds": "soon"}), 400, "seconds")


@pytest.mark.parametrize("ask", [{"headers": {"Accept": "application/json"}},
                                 {"query_string": {"format": "json"}}])
def test_uws_errors_are_error_and_status_json_when_json_is_asked_for(client, ask):
    response = client.get("/uws/echo/0123abcd", **ask)
    assert response.status_code == 404 and response.mimetype == "application/json"
    doc = response.get_json()
    assert set(doc) == {"error", "status"} and doc["status"] == 404 and "0123abcd" in doc["error"]


# -- /v6: {"detail"} always -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v6", "/v6/", "/v6/nothing/here/", "/v6/job-types/a/b/c/d/"])
def test_v6_404_is_detail_for_unknown_paths(client, path):
    assert_detail(client.get(path, headers={"Accept": "text/plain"}), 404)


def test_v6_404_for_an_unknown_job_type_is_detail_naming_it(client):
    assert_detail(client.get("/v6/job-types/no-such-type/"), 404, "no-such-type")


def test_v6_405_is_detail_with_allow(client):
    response = client.delete("/v6/job-types/")
    assert_detail(response, 405)
    assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]


def test_v6_413_is_detail_naming_the_limit(client):
    response = client.post("/v6/job-types/", data=TOO_LARGE, content_type="application/json")
    assert_detail(response, 413, str(LIMIT))


def test_v6_400_is_detail_and_a_rejected_type_adds_its_validation(client):
    assert_detail(client.post("/v6/job-types/", data="{not json",
                              content_type="application/json"), 400, "body")
    assert_detail(client.get("/v6/job-types/", query_string={"page": "0"}), 400, "page")
    doc = assert_detail(client.post("/v6/job-types/", json={"manifest": {}}), 400, "manifest")
    assert doc["is_valid"] is False and doc["errors"] and "warnings" in doc


def test_v6_500_is_detail_without_the_trace(client, components, monkeypatch):
    def broken(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(components.registry, "types", broken)
    doc = assert_detail(client.get("/v6/job-types/"), 500, "server log")
    assert "secret" not in doc["detail"]


# -- /api/v1: FastAPI's {"detail"} always -------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/nothing", "/api/v1/job/x/y/z/w"])
def test_ocps_404_is_detail_for_unknown_paths(client, path):
    assert_detail(client.get(path, headers={"Accept": "text/plain"}), 404)


def test_ocps_404_for_an_unknown_job_is_detail_naming_it(client):
    assert_detail(client.get("/api/v1/job/0123abcd"), 404, "0123abcd")


def test_ocps_405_is_detail_with_allow(client):
    response = client.post("/api/v1/job", json={})
    assert_detail(response, 405)
    assert "PUT" in response.headers["Allow"] and "GET" in response.headers["Allow"]


def test_ocps_413_is_detail_naming_the_limit(client):
    response = client.put("/api/v1/job", data=TOO_LARGE, content_type="application/json")
    assert_detail(response, 413, str(LIMIT))


def test_ocps_400_is_detail_naming_the_field(client):
    assert_detail(client.get("/api/v1/job", query_string={"phase": "soon"}), 400, "phase")
    assert_detail(client.put("/api/v1/job", json={"run_id": "1", "url": "x"}), 400, "command")
    assert_detail(client.put("/api/v1/job", data="{", content_type="application/json"), 400,
                  "body")
