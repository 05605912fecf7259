"""Issue 15 item 12: bytes that are not UTF-8, impossible time-zone offsets and values too long
to ever run are refused (400/413, naming what), never stored in another form.

Werkzeug replaced invalid UTF-8 by U+FFFD (multipart, text bodies), kept it as literal
``%FF`` (query strings, forms) or dropped a raw urlencoded body altogether; ``parse_utc``
took ``+99:99``; a 40 MB message was stored although no command line can hold 128 KiB.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.hardening.conftest import EDGE_MAX_CHARS
from tests.hardening.edge_kit import echo_jobs, manifest, unique
from tests.support import assert_json_detail, assert_plain_error

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
DEFAULT_LIMIT = 64 * 1024


@pytest.mark.parametrize("how", ["escaped form", "raw form", "multipart", "json", "query"])
def test_invalid_utf8_is_400_and_creates_nothing(server, how):
    url, kwargs = server.list_url("echo"), {}
    if how == "escaped form":
        kwargs = {"data": b"message=caf%E9", "headers": FORM}
    elif how == "raw form":
        kwargs = {"data": b"message=caf\xe9", "headers": FORM}
    elif how == "multipart":
        kwargs = {"files": {"message": (None, b"caf\xe9")}}
    elif how == "json":
        kwargs = {"data": b'{"message": "caf\xe9"}',
                  "headers": {"Content-Type": "application/json"}}
    else:
        url += "?message=caf%E9"
    before = echo_jobs(server)
    response = requests.post(url, allow_redirects=False, timeout=10, **kwargs)
    assert_plain_error(response, 400, "UTF-8")
    assert echo_jobs(server) == before


def test_invalid_utf8_never_replaces_a_value(server):
    job = server.create("echo", {"message": "café"})
    for kwargs in ({"data": b"caf\xe9", "headers": {"Content-Type": "text/plain"}},
                   {"data": b"message=caf%FF", "headers": FORM},
                   {"files": {"message": (None, b"\xff\xfe")}}):
        response = requests.put(f"{job}/parameters/message", allow_redirects=False, timeout=10,
                                **kwargs)
        assert_plain_error(response, 400, "UTF-8")
        assert requests.get(f"{job}/parameters/message", timeout=10).text == "café"
    listed = requests.get(f"{server.url}/v6/job-types/", params=b"keyword=%FF", timeout=10)
    assert_json_detail(listed, 400, "UTF-8")
    # what is UTF-8 is taken as it is, U+FFFD included
    created = server.create("echo", {"message": "a\ufffdb é"})
    assert requests.get(f"{created}/parameters/message", timeout=10).text == "a\ufffdb é"


@pytest.mark.parametrize("offset", ["+24:00", "+99:99", "-24:00", "+0960", "+12:60"])
def test_an_impossible_time_zone_offset_is_400_naming_the_value(server, offset):
    value = f"2030-01-01T00:00:00{offset}"
    listed = requests.get(server.list_url("echo"), params={"AFTER": value}, timeout=10)
    assert_plain_error(listed, 400, "AFTER", offset)
    job = server.create("echo", {"message": "tz"})
    before = requests.get(f"{job}/destruction", timeout=10).text
    response = requests.post(f"{job}/destruction", data={"DESTRUCTION": value},
                             allow_redirects=False, timeout=10)
    assert_plain_error(response, 400, "DESTRUCTION", offset)
    assert requests.get(f"{job}/destruction", timeout=10).text == before
    created = requests.post(server.list_url("echo"), allow_redirects=False, timeout=10,
                            data={"message": "tz", "DESTRUCTION": value})
    assert_plain_error(created, 400, "DESTRUCTION")
    status = requests.get(f"{server.url}/v6/job-types/status/", params={"ended": value},
                          timeout=10)
    assert_json_detail(status, 400, "ended")


def test_real_offsets_still_work(server):
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    job = server.create("echo", {"message": "tz", "DESTRUCTION": f"{day}T05:30:00+05:30"})
    assert requests.get(f"{job}/destruction", timeout=10).text == f"{day}T00:00:00.000Z"
    listed = requests.get(server.list_url("echo"),
                          params={"AFTER": "2020-01-01T00:00:00-23:59"}, timeout=10)
    assert listed.status_code == 200


def test_a_value_over_the_default_limit_is_413_naming_it_and_the_limit(server):
    before = echo_jobs(server)
    response = requests.post(server.list_url("echo"), data={"message": "x" * (DEFAULT_LIMIT + 1)},
                             allow_redirects=False, timeout=30)
    assert_plain_error(response, 413, "message", str(DEFAULT_LIMIT), "UWS_MAX_PARAMETER_CHARS")
    assert echo_jobs(server) == before
    job = server.create("echo", {"message": "x" * DEFAULT_LIMIT})
    assert len(requests.get(f"{job}/parameters/message", timeout=10).text) == DEFAULT_LIMIT
    too_long = requests.put(f"{job}/parameters/message", data=b"y" * (DEFAULT_LIMIT + 1),
                            headers={"Content-Type": "text/plain"}, allow_redirects=False,
                            timeout=30)
    assert_plain_error(too_long, 413, "message")
    assert len(requests.get(f"{job}/parameters/message", timeout=10).text) == DEFAULT_LIMIT
    # four-byte characters: within the character limit, beyond what one argument holds
    wide = requests.post(server.list_url("echo"), data={"message": "\U0001F600" * 40000},
                         allow_redirects=False, timeout=30)
    assert_plain_error(wide, 413, "message", "bytes")


def test_the_configured_default_and_a_job_types_own_limit_apply(server, edge_server):
    over = requests.post(edge_server.list_url("echo"), allow_redirects=False, timeout=10,
                         data={"message": "x" * (EDGE_MAX_CHARS + 1)})
    assert_plain_error(over, 413, "message", str(EDGE_MAX_CHARS))
    assert edge_server.create("echo", {"message": "x" * EDGE_MAX_CHARS})
    name = unique("short")
    registered = requests.post(f"{server.url}/v6/job-types/", timeout=10, json={
        "manifest": manifest(name), "docker_image": "x:1",
        "configuration": {"max_parameter_chars": 10}})
    assert registered.status_code == 201, registered.text
    refused = requests.post(server.list_url(name), data={"message": "x" * 11},
                            allow_redirects=False, timeout=10)
    assert_plain_error(refused, 413, "message", "10", "max_parameter_chars")
    assert server.create(name, {"message": "x" * 10})
    for bad in (0, "10", 200_000, True):
        response = requests.post(f"{server.url}/v6/job-types/", timeout=10, json={
            "manifest": manifest(unique("bad")), "docker_image": "x:1",
            "configuration": {"max_parameter_chars": bad}})
        assert_json_detail(response, 400, "max_parameter_chars")
