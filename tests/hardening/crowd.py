"""A crowd of clients blocked in ``GET job?WAIT=…``, as raw loopback sockets (no thread each).

Shared by the hardening tests and ``bench/wait_load.py``.
"""

from __future__ import annotations

import selectors
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit


def open_waiters(job_url: str, count: int, seconds: int) -> list[socket.socket]:
    """``count`` connections, each having sent ``GET job?WAIT=seconds`` (answers not read)."""
    parts = urlsplit(job_url)
    assert parts.hostname == "127.0.0.1", job_url  # loopback only
    request = (f"GET {parts.path}?WAIT={seconds} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "Connection: close\r\n\r\n").encode()
    crowd = []
    try:
        for _ in range(count):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
            sock.sendall(request)
            crowd.append(sock)
    except BaseException:
        close(crowd)
        raise
    return crowd


def answers(crowd: list[socket.socket], timeout: float) -> tuple[list[bytes], float]:
    """Read every connection to its end, for at most ``timeout`` seconds.

    Returns the complete answers (connections still open at the deadline are
    closed and left out) and the seconds until the last one ended.
    """
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytes] = {}
    for sock in crowd:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        buffers[sock] = b""
    done: list[bytes] = []
    last = 0.0
    deadline = started + timeout
    try:
        while buffers and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                if chunk:
                    buffers[sock] += chunk
                    continue
                done.append(buffers.pop(sock))
                last = time.monotonic() - started
                selector.unregister(sock)
                sock.close()
    finally:
        selector.close()
        close(list(buffers))
    return done, last


def close(crowd: list[socket.socket]) -> None:
    """Hang up every connection."""
    for sock in crowd:
        sock.close()


def worker_pid(master: int, timeout: float = 30) -> int:
    """The pid of the one gunicorn worker of a ``serve`` (or gunicorn) master."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise AssertionError(f"process {master} has no worker")


def threads_of(pid: int) -> int:
    """How many threads a process has (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no thread count for {pid}")


def wait_until_blocked(master: int, count: int, timeout: float = 20) -> None:
    """Wait until the worker has a thread for each of ``count`` blocked requests.

    The worker's threads are created as requests arrive, so ``count`` more
    threads than a few means the crowd is in. Times out quietly: the caller's
    assertions say what went wrong.
    """
    worker = worker_pid(master)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and threads_of(worker) < count:
        time.sleep(0.2)
    time.sleep(0.5)  # the last ones reach their wait
