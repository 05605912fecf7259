"""The service says which version it is: on the command line, in /uws and in every answer."""

from __future__ import annotations

import subprocess
import sys

import requests

from uws_server import __version__


def test_cli_prints_its_version():
    done = subprocess.run([sys.executable, "-m", "uws_server.cli", "--version"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == f"uws-server {__version__}"


def test_root_document_and_server_header_carry_the_version(server):
    response = requests.get(f"{server.url}/uws", timeout=10)
    assert response.status_code == 200
    assert response.json()["serverVersion"] == __version__
    assert response.headers["Server"] == f"uws-server/{__version__}"


def test_every_front_door_names_the_service_in_its_server_header(server):
    for path in ("/", "/uws/echo", "/v6/job-types/", "/uws/no-such-list"):
        response = requests.get(f"{server.url}{path}", timeout=10)
        assert response.headers["Server"] == f"uws-server/{__version__}", path
