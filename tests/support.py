"""Test helpers: live server processes, PostgreSQL schemas, UWS schema validation."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

import requests
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
UWS_XSD = ROOT / "schemas" / "uws" / "UWS-v1.1.xsd"
NS = {"uws": "http://www.ivoa.net/xml/UWS/v1.0", "xlink": "http://www.w3.org/1999/xlink",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}


@cache
def uws_schema() -> etree.XMLSchema:
    """The official UWS 1.1 schema (local copy; imports xlink.xsd beside it)."""
    return etree.XMLSchema(etree.parse(str(UWS_XSD)))


def assert_valid_uws(body: bytes) -> etree._Element:
    """Parse a UWS document, assert it validates against the official XSD, return its root."""
    root = etree.fromstring(body)
    schema = uws_schema()
    if not schema.validate(root):
        raise AssertionError(f"UWS document invalid: {schema.error_log}\n{body[:2000]!r}")
    return root


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_available(url: str) -> bool:
    """Whether the PostgreSQL server of ``url`` accepts connections."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def postgres_schema(base_url: str, schema: str) -> Iterator[str]:
    """A new schema in the test database; yields a URL that uses it; drops it afterwards."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@dataclass
class LiveServer:
    """A ``uws-server serve`` subprocess and how to reach it."""

    url: str
    data_dir: Path
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def list_url(self, jobtype: str = "echo") -> str:
        """The absolute URL of a job list."""
        return f"{self.url}/uws/{jobtype}"

    def create(self, jobtype: str = "echo", data: object = None, **kwargs: object) -> str:
        """Create a job; return its URL (the 303 Location)."""
        response = requests.post(self.list_url(jobtype), data=data, allow_redirects=False,
                                 timeout=30, **kwargs)
        assert response.status_code == 303, (response.status_code, response.text)
        return response.headers["Location"]

    def wait_phase(self, job_url: str, phases: set[str], timeout: float = 30) -> str:
        """Block (with WAIT) until the job is in one of ``phases``; return it."""
        deadline = time.monotonic() + timeout
        phase = ""
        while time.monotonic() < deadline:
            phase = requests.get(f"{job_url}/phase", timeout=10).text
            if phase in phases:
                return phase
            requests.get(job_url, params={"WAIT": 2}, timeout=30)
        raise AssertionError(f"{job_url} still {phase}, wanted {phases}")

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")

    @classmethod
    @contextlib.contextmanager
    def start(cls, data_dir: Path, database_url: str, **env: str) -> Iterator[LiveServer]:
        """Start a server and wait until it answers; stop it afterwards."""
        with running_serve(data_dir, database_url, env=env) as (url, process, log_path):
            yield cls(url, data_dir, database_url, process, log_path)


@contextlib.contextmanager
def running_serve(data_dir: Path, database_url: str, *, threads: int = 16,
                  args: Sequence[str] = (), https: bool = False,
                  env: Mapping[str, str] | None = None,
                  ) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``uws-server serve`` on a free port (``args`` added, e.g. the TLS files), waited for
    until it answers ``/uws``; yields its URL, process and log; terminated afterwards."""
    port = free_port()
    log_path = data_dir / "server.log"
    environ = {**os.environ, "UWS_DATABASE_URL": database_url, "UWS_POLL_INTERVAL": "0.2",
               "UWS_LOG_LEVEL": "INFO", **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uws_server.cli", "serve", "--port", str(port),
             "--data-dir", str(data_dir), "--threads", str(threads), *args],
            env=environ, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    url = f"{'https' if https else 'http'}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # 401: up, with authentication required (users exist); TLS: self-signed
                if requests.get(f"{url}/uws", timeout=2,
                                verify=not https).status_code in (200, 401):
                    break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n"
                                   + log_path.read_text(errors="replace"))
            time.sleep(0.1)
        yield url, process, log_path
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """Stop a server process cleanly (SIGTERM), or kill it after ``timeout`` seconds."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- helpers for the UWS conformance suite (tests/uws) -----------------------------------
TIME_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"


def job_id_of(job_url: str) -> str:
    """The last path element of a job URL."""
    return job_url.rstrip("/").rsplit("/", 1)[-1]


def list_job_ids(list_url: str, **params: object) -> list[str]:
    """The ids of a job list (validated against the XSD), in document order."""
    response = requests.get(list_url, params=params, timeout=10)
    assert response.status_code == 200, (response.status_code, response.text)
    root = assert_valid_uws(response.content)
    return [ref.get("id") for ref in root.iterfind("uws:jobref", NS)]


def get_job_xml(job_url: str, **params: object) -> etree._Element:
    """GET a job document, assert 200 and schema validity, return its root."""
    response = requests.get(job_url, params=params, timeout=70)
    assert response.status_code == 200, (response.status_code, response.text)
    return assert_valid_uws(response.content)


def uws_text(root: etree._Element, tag: str) -> str | None:
    """The text of a direct ``uws:`` child (None when absent or nil)."""
    element = root.find(f"uws:{tag}", NS)
    if element is None or element.get(f"{{{NS['xsi']}}}nil") == "true":
        return None
    return element.text or ""


def assert_plain_error(response: requests.Response, status: int, *names: str) -> None:
    """A one-line ``text/plain`` error with ``status`` that names each of ``names``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("text/plain"), response.headers
    text = response.text.strip()
    assert text, "empty error message"
    assert "\n" not in text, f"not one line: {text!r}"
    assert "Traceback" not in text and 'File "' not in text, text
    for name in names:
        assert name.lower() in text.lower(), f"{name!r} not named in {text!r}"


def job_dirs(data_dir: Path) -> set[str]:
    """The job directories that exist under a server's data directory."""
    jobs = data_dir / "jobs"
    return {p.name for p in jobs.iterdir()} if jobs.is_dir() else set()


def assert_json_detail(response: requests.Response, status: int, *names: str) -> str:
    """A one-line JSON ``{"detail"}`` error (the /v6 and /api/v1 style) naming each of ``names``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    detail = response.json()["detail"]
    assert detail and "\n" not in detail and "Traceback" not in detail, detail
    for name in names:
        assert name.lower() in detail.lower(), f"{name!r} not named in {detail!r}"
    return detail


@contextlib.contextmanager
def own_database(like_url: str, data_dir: Path, name: str, postgres_base: str
                 ) -> Iterator[str]:
    """A fresh, empty database of the same kind as ``like_url`` (PostgreSQL: a schema of its
    own, dropped afterwards), for a test that needs its own users or its own server."""
    import uuid

    if like_url.startswith("sqlite"):
        yield f"sqlite:///{data_dir / (name + '.sqlite3')}"
        return
    with postgres_schema(postgres_base, f"uws_{name}_{uuid.uuid4().hex[:10]}") as url:
        yield url


@contextlib.contextmanager
def server_with_own_database(like_url: str, data_dir: Path, name: str,
                             postgres_base: str, **env: str) -> Iterator[LiveServer]:
    """A live server with other settings, on a fresh database of the same kind as ``like_url``.

    A second server must not share the session server's database: its dispatcher would
    wait on the first one's lease and run jobs against the wrong data directory.
    """
    with (own_database(like_url, data_dir, name, postgres_base) as url,
          LiveServer.start(data_dir, url, **env) as server):
        yield server
