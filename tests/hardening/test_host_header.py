"""Issue 15 item 7: the ``Host`` header never puts another site into ``Location`` or an href.

URLs come from ``UWS_BASE_URL`` or from a ``Host`` the service answers to: by default the
bind address, ``localhost``, ``127.0.0.1`` and ``[::1]`` with the port; ``UWS_ALLOWED_HOSTS``
adds names. Any other ``Host`` (DNS rebinding against the loopback default) is a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.hardening.conftest import EDGE_HOST
from tests.hardening.edge_kit import echo_jobs
from tests.support import (
    LiveServer,
    assert_json_detail,
    assert_plain_error,
    server_with_own_database,
)

PUBLIC = "https://uws.public.example/prefix"


@pytest.fixture(scope="module")
def public_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[LiveServer]:
    """A server behind a (pretend) proxy: ``UWS_BASE_URL`` set, on its own database."""
    with server_with_own_database(database_url, tmp_path_factory.mktemp("public"), "public",
                                  POSTGRES_BASE, UWS_BASE_URL=PUBLIC) as live:
        yield live


def test_a_foreign_host_is_400_naming_it_and_creates_nothing(server):
    evil = {"Host": "attacker.example"}
    assert_plain_error(requests.get(f"{server.url}/uws", headers=evil, timeout=10), 400,
                       "attacker.example")
    before = echo_jobs(server)
    created = requests.post(server.list_url("echo"), data={"message": "x"}, headers=evil,
                            allow_redirects=False, timeout=10)
    assert_plain_error(created, 400, "attacker.example")
    assert "Location" not in created.headers
    assert echo_jobs(server) == before
    listed = requests.get(f"{server.url}/v6/job-types/", headers=evil, timeout=10)
    assert_json_detail(listed, 400, "attacker.example")
    port = server.url.rsplit(":", 1)[1]
    for host in (f"attacker.example:{port}", f"localhost:{int(port) + 1}", "localhost.",
                 "127.0.0.1:80@attacker.example", "bad host"):
        response = requests.get(f"{server.url}/uws", headers={"Host": host}, timeout=10)
        assert_plain_error(response, 400, "Host")


def test_the_local_names_with_the_port_are_answered_in_every_link(server):
    port = server.url.rsplit(":", 1)[1]
    job = server.create("echo", {"message": "host"})
    job_id = job.rsplit("/", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}",
                 f"LOCALHOST:{port}"):
        home = requests.get(f"{server.url}/uws", headers={"Host": host}, timeout=10)
        assert home.status_code == 200, (host, home.text)
        assert all(h["href"].startswith(f"http://{host.lower()}/uws/")
                   for h in home.json()["jobLists"])
        created = requests.post(server.list_url("echo"), data={"message": "x"},
                                headers={"Host": host}, allow_redirects=False, timeout=10)
        assert created.headers["Location"].startswith(f"http://{host.lower()}/uws/echo/")
        listed = requests.get(server.list_url("echo"), headers={"Host": host}, timeout=10)
        assert f'xlink:href="http://{host.lower()}/uws/echo/{job_id}"' in listed.text


def test_allowed_hosts_adds_names_on_any_port(edge_server):
    for host in (EDGE_HOST, f"{EDGE_HOST}:8443"):
        created = requests.post(edge_server.list_url("echo"), data={"message": "x"},
                                headers={"Host": host}, allow_redirects=False, timeout=10)
        assert created.status_code == 303, created.text
        assert created.headers["Location"].startswith(f"http://{host}/uws/echo/")
    response = requests.get(f"{edge_server.url}/uws", headers={"Host": f"x.{EDGE_HOST}"},
                            timeout=10)
    assert_plain_error(response, 400, f"x.{EDGE_HOST}")


def test_behind_a_proxy_links_come_from_the_base_url_and_its_host_is_answered(public_server):
    for headers in ({}, {"Host": "uws.public.example"}):
        created = requests.post(public_server.list_url("echo"), data={"message": "x"},
                                headers=headers, allow_redirects=False, timeout=10)
        assert created.status_code == 303, created.text
        assert created.headers["Location"].startswith(f"{PUBLIC}/uws/echo/")
    response = requests.get(f"{public_server.url}/uws", headers={"Host": "attacker.example"},
                            timeout=10)
    assert_plain_error(response, 400, "attacker.example")
