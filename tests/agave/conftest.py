"""A live ``uws-server serve --certfile --keyfile`` (HTTPS) with two users, per database.

agavepy speaks https only, so the server serves TLS itself with a self-signed
certificate made here by the ``openssl`` command. The server has a job type of
its own, ``tree``, whose program writes a sub-directory of outputs.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

from tests.conftest import POSTGRES_BASE
from tests.support import own_database, running_serve
from uws_server.auth.users import UserService
from uws_server.db import Database, upgrade

#: A program that writes ``sub/data.txt`` (the message) and ``sub/deeper/x.txt``.
TREE_PROGRAM = (
    "import os, sys; out, msg = sys.argv[1], sys.argv[2]; "
    "os.makedirs(os.path.join(out, 'sub', 'deeper')); "
    "open(os.path.join(out, 'sub', 'data.txt'), 'w').write(msg); "
    "open(os.path.join(out, 'sub', 'deeper', 'x.txt'), 'w').write('x'); "
    "open(os.path.join(out, 'result.txt'), 'w').write(msg)"
)
#: The one command the OCPS door may run here (the three-door agreement test).
OCPS_COMMAND = 'echo agave > "$JOB_OUTPUT_DIR/out.txt"'
TREE_MANIFEST = {
    "seedVersion": "1.0.0",
    "job": {
        "name": "tree", "jobVersion": "2.0.0", "packageVersion": "1.0.0", "title": "Tree",
        "description": "Writes a small directory tree of outputs (tests/agave).",
        "maintainer": {"name": "tests", "email": "tests@example.org"},
        "timeout": 600,
        "interface": {
            "command": f'${{PYTHON}} -c "{TREE_PROGRAM}" ${{OUTPUT_DIR}} ${{message}}',
            "inputs": {"json": [{"name": "message", "type": "string", "required": True}]},
            "outputs": {"files": [{"name": "result", "mediaType": "text/plain",
                                   "pattern": "result.txt"}]},
        },
    },
}


@dataclass
class TlsServer:
    """The HTTPS server, its data directory and its users' tokens."""

    url: str
    data_dir: Path
    database_url: str
    tokens: dict[str, str]
    log_path: Path

    def headers(self, user: str) -> dict[str, str]:
        """The Bearer header of a user."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def request(self, method: str, path: str, user: str = "alice", **kwargs: Any
                ) -> requests.Response:
        """A plain ``requests`` call (certificate not verified: it is self-signed)."""
        headers = {**self.headers(user), **kwargs.pop("headers", {})} if user else \
            kwargs.pop("headers", {})
        return requests.request(method, self.url + path, headers=headers, verify=False,
                                timeout=30, **kwargs)

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (``openssl req``)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


@contextlib.contextmanager
def start_tls_server(data_dir: Path, database_url: str, tokens: dict[str, str],
                     **env: str) -> Iterator[TlsServer]:
    """``uws-server serve --certfile --keyfile`` on a free port, until the block ends."""
    cert, key = make_certificate(data_dir)
    with running_serve(data_dir, database_url, threads=8, https=True, env=env,
                       args=("--certfile", str(cert), "--keyfile", str(key))
                       ) as (url, _process, log_path):
        yield TlsServer(url, data_dir, database_url, tokens, log_path)


@pytest.fixture(scope="session")
def tls_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[TlsServer]:
    """One HTTPS server per database, with users alice and bob (and admin ops)."""
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    data_dir = tmp_path_factory.mktemp("agave")
    types_dir = data_dir / "jobtypes"
    types_dir.mkdir()
    (types_dir / "tree.json").write_text(json.dumps(TREE_MANIFEST))
    with own_database(database_url, data_dir, "agave", POSTGRES_BASE) as url:
        upgrade(url)
        db = Database(url)
        users = UserService(db)
        tokens = {}
        for name in ("alice", "bob", "ops"):
            users.add_user(name, admin=(name == "ops"))
            tokens[name] = users.create_token(name)[1]
        db.dispose()
        with start_tls_server(data_dir, url, tokens, UWS_JOBTYPES_DIR=str(types_dir),
                              UWS_OCPS_ALLOWED_COMMANDS=OCPS_COMMAND) as live:
            yield live


@pytest.fixture
def agave(tls_server: TlsServer) -> Any:
    """agavepy's client for alice (see :func:`client_for`)."""
    return client_for(tls_server, "alice")


def client_for(server: TlsServer, user: str) -> Any:
    """The real agavepy client of ``user`` against the HTTPS server.

    agavepy sends its ``Authorization: Bearer`` header only when ``api_server`` has no
    explicit port (its authenticator compares ``host:port`` with the bare hostname); the
    test server listens on a free port, so the header is set on the client's own session,
    which every jobs call goes through.
    """
    from agavepy.agave import Agave

    client = Agave(api_server=server.url, token=server.tokens[user], verify=False)
    client.all.http_client.session.headers["Authorization"] = \
        f"Bearer {server.tokens[user]}"
    return client


def wait_status(client: Any, job_id: str, wanted: set[str], timeout: float = 60) -> str:
    """Poll ``getStatus`` until the job is in one of ``wanted``; return that status."""
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = client.jobs.getStatus(jobId=job_id)["status"]
        if status in wanted:
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {status}, wanted {wanted}")


def tree_request(name: str, message: str = "hello tree", **extra: Any) -> dict[str, Any]:
    """A JobRequest for the ``tree`` job type."""
    return {"name": name, "appId": "tree-2.0.0", "parameters": {"message": message},
            "inputs": {}, "archive": False, **extra}
