"""Helpers of the dispatcher-side hardening tests (issue 15 items 1-5, 15, fault injection).

- job types whose program leaves a trace of every run (``append``) or fills
  its disk (``diskfill``), registered from a directory like an operator's;
- dispatchers as real ``uws-server worker`` processes, optionally made to
  kill themselves (SIGKILL) at a named point of a local submission
  (:mod:`tests.hardening.crash_worker`);
- misbehaving HTTP servers on loopback (a non-HTTP answer, a drip, a hang,
  a redirect).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import select

from tests.support import ROOT
from uws_server.db import Database
from uws_server.models import Job

#: Appends a line to ``$JOB_DIR/runs.log`` as its first act, then sleeps ``seconds``.
APPEND_CODE = ("import os, sys, time; "
               "f = open(os.path.join(os.environ['JOB_DIR'], 'runs.log'), 'a'); "
               "f.write(str(os.getpid()) + chr(10)); f.close(); time.sleep(float(sys.argv[1]))")
#: Writes zeros to its output directory until the filesystem is full, then fails (ENOSPC).
DISKFILL_CODE = ("import os; f = open(os.path.join(os.environ['OUTPUT_DIR'], 'fill'), 'wb'); "
                 "[f.write(bytes(65536)) for _ in range(1 << 20)]")


def _manifest(name: str, command: str, inputs: list[dict[str, object]]) -> dict[str, object]:
    return {"seedVersion": "1.0.0", "job": {
        "name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
        "title": name, "description": f"{name} (hardening tests)", "tags": ["test"],
        "maintainer": {"name": "tests", "email": "tests@example.org"}, "timeout": 600,
        "interface": {"command": command, "inputs": {"json": inputs} if inputs else {}},
    }}


def write_manifests(directory: Path) -> Path:
    """Write the ``append`` and ``diskfill`` manifests into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    append = _manifest("append", f'${{PYTHON}} -c "{APPEND_CODE}" ${{seconds}}',
                       [{"name": "seconds", "type": "number", "required": True}])
    diskfill = _manifest("diskfill", f'${{PYTHON}} -c "{DISKFILL_CODE}"', [])
    (directory / "append.json").write_text(json.dumps(append), encoding="utf-8")
    (directory / "diskfill.json").write_text(json.dumps(diskfill), encoding="utf-8")
    return directory


def runs(job_dir: Path) -> int:
    """How many times the ``append`` program of a job started."""
    log = job_dir / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def worker_env(data_dir: Path, database_url: str, jobtypes_dir: Path,
               **extra: str) -> dict[str, str]:
    """The environment of a worker on this data directory and database."""
    return {**os.environ, "UWS_DATA_DIR": str(data_dir), "UWS_DATABASE_URL": database_url,
            "UWS_JOBTYPES_DIR": str(jobtypes_dir), "UWS_POLL_INTERVAL": "0.05",
            "UWS_LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT), **extra}


def start_worker(env: dict[str, str], log_path: Path, crash_at: str | None = None
                 ) -> subprocess.Popen[bytes]:
    """A ``uws-server worker`` process, or one that SIGKILLs itself at ``crash_at``."""
    command = ([sys.executable, "-m", "tests.hardening.crash_worker", crash_at] if crash_at
               else [sys.executable, "-m", "uws_server.cli", "worker"])
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker (only it: job supervisors run in sessions of their own)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a worker cleanly (SIGTERM), or kill it after 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            kill(process)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# -- misbehaving HTTP servers on loopback ----------------------------------------------
class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def tcp_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 calling ``handle(connection)``; yields ``http://127.0.0.1:PORT``."""
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(OSError):
                handle(self.request)

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _read_request(conn: socket.socket) -> bytes:
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answer(body: bytes, status: str = "200 OK", headers: str = ""
           ) -> Callable[[socket.socket], None]:
    """A handler answering every request with ``body``."""
    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}"
                     "Connection: close\r\n\r\n".encode() + body)
    return handle


def not_http(conn: socket.socket) -> None:
    """Answers a line that is not HTTP (``http.client.BadStatusLine``)."""
    _read_request(conn)
    conn.sendall(b"SSH-2.0-OpenSSH_9.6 definitely not http\r\n")


def drip(seconds: float, interval: float = 0.5) -> Callable[[socket.socket], None]:
    """Sends a valid response one byte every ``interval`` s for ``seconds`` s."""
    count = int(seconds / interval)

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {count}\r\n"
                     "Connection: close\r\n\r\n".encode())
        for _ in range(count):
            time.sleep(interval)
            conn.sendall(b"x")
    return handle


def hang(seconds: float) -> Callable[[socket.socket], None]:
    """Accepts, reads the request, and says nothing for ``seconds`` s."""
    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        time.sleep(seconds)
    return handle


def redirect_to(location: str) -> Callable[[socket.socket], None]:
    """Answers 302 to ``location``."""
    return answer(b"", "302 Found", f"Location: {location}\r\n")


# -- the accounting of the fault-injection suites (local, Slurm, lease takeover) -----------
#: Phases a job ends in; a job in another one when the suite ends is stuck.
FINAL_PHASES = ("COMPLETED", "ERROR", "ABORTED")


def phases_of(db: Database, job_ids: list[str]) -> dict[str, str]:
    """The current phase of each of ``job_ids`` that still exists."""
    with db.read() as session:
        return dict(session.execute(select(Job.id, Job.phase)
                                    .where(Job.id.in_(job_ids))).all())


def outcome(job_ids: list[str], seen: dict[str, str], counts: dict[str, int]
            ) -> tuple[list[str], list[str], list[str]]:
    """``(lost, duplicated, stuck)``: jobs not COMPLETED with one run, run twice, not ended.

    ``counts`` is how often each job's program ran (:func:`runs`).
    """
    stuck = [j for j in job_ids if seen.get(j) not in FINAL_PHASES]
    lost = [j for j in job_ids if j not in seen or (seen[j] in FINAL_PHASES and (
        seen[j] != "COMPLETED" or counts[j] == 0))]
    duplicated = [j for j in job_ids if counts[j] > 1]
    return lost, duplicated, stuck
