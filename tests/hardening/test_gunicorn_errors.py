"""Issue 15 item 13: every error a client can provoke is in its front door's shape, also those
gunicorn answers itself (414, 431, a bad ``Content-Length``, bad chunked framing) and ``//``
in a path (Werkzeug's ``merge_slashes`` answered a 308 HTML redirect).

Text, one line, for ``/uws`` and the rest; ``{"detail": ...}`` for ``/v6`` and ``/api/v1``.
Raw sockets: no client library sends these requests.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.hardening.rawhttp import RawResponse, port_of, send

LONG = "a" * 9000


def assert_shape(response: RawResponse, status: int, path: str, *names: str) -> str:
    """``status`` with the body the front door of ``path`` documents; return its line."""
    assert response.status == status, (response.status, response.body[:300])
    assert b"<html" not in response.body.lower() and b"Traceback" not in response.body
    if path.startswith(("/v6", "/api/v1")):
        assert response.headers["content-type"].startswith("application/json"), response.headers
        line = json.loads(response.body)["detail"]
    else:
        assert response.headers["content-type"].startswith("text/plain"), response.headers
        line = response.text.strip()
    assert line and "\n" not in line, line
    for name in names:
        assert name.lower() in line.lower(), (name, line)
    return line


def _head(host: str, method: str, target: str, *headers: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


@pytest.mark.parametrize("path", ["/uws/echo", "/v6/job-types/", "/api/v1/job", "/"])
def test_a_request_line_too_long_is_414_in_the_doors_shape(server, path):
    host = server.url.removeprefix("http://")
    response = send(port_of(server.url), _head(host, "GET", f"{path}?x={LONG}"))
    assert_shape(response, 414, path, "4094")


@pytest.mark.parametrize("path", ["/uws/echo", "/v6/job-types/", "/api/v1/job"])
def test_headers_too_large_are_431_in_the_doors_shape(server, path):
    host = server.url.removeprefix("http://")
    big = send(port_of(server.url), _head(host, "GET", path, f"X-Big: {LONG}"))
    assert_shape(big, 431, path, "8190")
    many = send(port_of(server.url), _head(host, "GET", path,
                                           *(f"X-{i}: {i}" for i in range(150))))
    assert_shape(many, 431, path, "100")


@pytest.mark.parametrize("path", ["/uws/echo", "/v6/job-types/", "/api/v1/job"])
@pytest.mark.parametrize("framing", [
    ("Content-Length: abc",), ("Content-Length: -1",), ("Content-Length: 1", "Content-Length: 2"),
    ("Transfer-Encoding: gzip",),
])
def test_a_bad_content_length_or_framing_is_400_in_the_doors_shape(server, path, framing):
    host = server.url.removeprefix("http://")
    response = send(port_of(server.url), _head(host, "POST", path, *framing))
    assert_shape(response, 400, path, "malformed request")


@pytest.mark.parametrize("method,path", [("POST", "/uws/echo"), ("POST", "/v6/job-types/"),
                                         ("PUT", "/api/v1/job")])
def test_a_bad_chunk_is_400_in_the_doors_shape(edge_server, method, path):
    """gunicorn reads a chunked body while the app reads it (``edge_server`` allows OCPS, so
    that ``PUT /api/v1/job`` reads its body)."""
    host = edge_server.url.removeprefix("http://")
    data = _head(host, method, path, "Transfer-Encoding: chunked",
                 "Content-Type: application/json") + b"zz\r\n{}\r\n0\r\n\r\n"
    assert_shape(send(port_of(edge_server.url), data), 400, path, "chunk")


def test_a_malformed_request_line_is_400_text(server):
    for data in (b"HELLO\r\n\r\n", b"GET /uws HTTP/9.9\r\nHost: x\r\n\r\n"):
        assert_shape(send(port_of(server.url), data), 400, "/", "malformed request")


@pytest.mark.parametrize("path", ["//uws//echo", "/uws//echo", "/uws/echo//", "/v6//job-types/",
                                  "/api/v1//job", "/v6/job-types//"])
def test_double_slashes_are_the_doors_404_never_a_redirect(server, path):
    response = requests.get(f"{server.url}{path}", allow_redirects=False, timeout=10)
    raw = RawResponse(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                      response.content)
    assert_shape(raw, 404, path.replace("//", "/"))
