"""Wake-ups on phase changes, within one process and across processes of one host.

A blocked ``WAIT`` must return when the phase changes, not at the next tick of
a poll. Whoever commits a phase change calls :meth:`WakeBus.publish` with the
job ids; waiters in this process are woken through a condition variable, and
every other process of the service on this host (gunicorn workers, the
dispatcher) through a datagram on its Unix socket in the run directory.

The special id ``"*"`` reaches subscribers that watch every job (the
dispatcher, which wakes when a job is queued).

Each job has a condition of its own (sharing one lock), so a phase change wakes
the requests blocked on that job only: with a thousand blocked ``WAIT``
requests, a change of one job does not wake the other 999 threads. And a change
wakes *one* of its job's waiters first: that one reads and answers for all
(:mod:`uws_server.services.waiting`), then lets the others go
(:meth:`WakeBus.release`). A thousand threads made runnable at once would
make the one doing the work wait for the interpreter lock behind all of them.
:meth:`WakeBus.stop_waiting` (on shutdown) wakes every one of them for good.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ANY_JOB = "*"
#: Receive buffer asked for each process's wake-up socket.
RECEIVE_BUFFER_BYTES = 4 << 20


#: Bytes of job ids per datagram (well under the 64 KiB a Unix datagram may carry).
DATAGRAM_BYTES = 60000
#: How long a wake-up refused by a full socket is tried again, and how often.
RESEND_SECONDS = 2.0
RESEND_EVERY = 0.002


def _datagrams(ids: Iterable[str]) -> Iterator[list[str]]:
    """The ids in groups that fit one datagram each, comma-separated, never cut."""
    group: list[str] = []
    size = 0
    for job_id in sorted(ids):
        if group and size + len(job_id) + 1 > DATAGRAM_BYTES:
            yield group
            group, size = [], 0
        group.append(job_id)
        size += len(job_id) + 1
    if group:
        yield group


def _send(out: socket.socket, path: Path, ids: Iterable[str]) -> set[str]:
    """Send ``ids`` to one process's socket; return those it could not take now (its
    queue was full: a Unix socket queues ``net.unix.max_dgram_qlen`` datagrams, often 10).
    A socket whose process is gone is removed, and nothing is left for it."""
    left: set[str] = set()
    for group in _datagrams(ids):
        if left:
            left.update(group)
            continue
        try:
            out.sendto(",".join(group).encode("ascii"), str(path))
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                path.unlink(missing_ok=True)  # its process is gone
                return set()
            if exc.errno not in (errno.EAGAIN, errno.ENOBUFS):
                return set()
            left.update(group)
    return left


class _Resender:
    """Tries again, merged, the wake-ups a busy process's full socket refused.

    A burst of commits (a thousand a second) overflows a receiver's short datagram
    queue; dropped, a wake-up would cost its waiters a re-read interval. The refused
    ids are kept per destination, merged with any refused after them (so the queue
    drains in a few datagrams), and sent again every :data:`RESEND_EVERY` seconds for
    :data:`RESEND_SECONDS`; the publisher never waits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Path, tuple[float, set[str]]] = {}
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wake-resend", daemon=True)
        self._pid = os.getpid()
        self._thread.start()

    def alive(self) -> bool:
        """Whether its thread runs in this process (a forked child makes its own)."""
        return self._pid == os.getpid() and self._thread.is_alive()

    def add(self, path: Path, ids: set[str]) -> None:
        """Send ``ids`` to ``path`` again soon."""
        with self._lock:
            since, pending = self._pending.get(path, (time.monotonic(), set()))
            self._pending[path] = (since, pending | ids)
        self._wake.set()

    def _run(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            out.setblocking(False)
            while True:
                self._wake.wait()
                time.sleep(RESEND_EVERY)
                with self._lock:
                    work, self._pending = self._pending, {}
                    self._wake.clear()
                for path, (since, ids) in work.items():
                    left = _send(out, path, ids)
                    if left and time.monotonic() - since < RESEND_SECONDS:
                        with self._lock:
                            _, newer = self._pending.get(path, (since, set()))
                            self._pending[path] = (since, newer | left)
                            self._wake.set()


def _socket_dir(run_dir: Path) -> Path:
    """``run_dir``, or a short stand-in under /tmp when socket paths would be too long."""
    if len(str(run_dir.resolve())) <= 60:
        return run_dir.resolve()
    digest = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"uws-run-{digest}"


class WakeBus:
    """Per-job generation counters with condition-variable waits, shared by socket.

    Parameters
    ----------
    run_dir
        Directory for the per-process sockets, or ``None`` for a bus that only
        works inside this process.
    """

    def __init__(self, run_dir: Path | None) -> None:
        self._mutex = threading.Lock()  # guards the counters, the conditions, the stop flag
        self._generations: dict[str, int] = {}
        self._conditions: dict[str, tuple[threading.Condition, int]] = {}  # job: (cond, waiters)
        self._stopping = False
        self._listeners: list[Callable[[set[str]], None]] = []
        self._run_dir = _socket_dir(run_dir) if run_dir is not None else None
        self._sock: socket.socket | None = None
        self._sock_path: Path | None = None
        self._pid = 0
        self._closed = False
        self._lock = threading.Lock()
        self._channel: Any = None
        self._retry: _Resender | None = None

    def attach_channel(self, channel: Any) -> None:
        """Also publish to and listen on ``channel`` (e.g. PostgreSQL, across hosts).

        ``channel`` has ``publish(ids)``, ``listen(on_wake)`` and ``close()``.
        """
        self._channel = channel

    # -- receiving -----------------------------------------------------------------
    def _ensure_socket(self) -> None:
        """Bind this process's socket on first use (after any fork)."""
        if self._channel is not None and not self._closed:
            self._channel.listen(self._wake_local)
        if self._run_dir is None or self._closed:
            return
        with self._lock:
            if self._sock is not None and self._pid == os.getpid():
                return
            self._run_dir.mkdir(parents=True, exist_ok=True)
            self._pid = os.getpid()
            path = self._run_dir / f"wake-{self._pid}-{id(self):x}.sock"
            path.unlink(missing_ok=True)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            # room for a burst of wake-ups while this process is busy (a thousand commits
            # a second): a full buffer drops datagrams, and a dropped wake-up costs its
            # waiters a re-read interval. The kernel caps it at net.core.rmem_max.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            sock.bind(str(path))
            self._sock, self._sock_path = sock, path
            threading.Thread(target=self._receive, args=(sock,), name="wake-bus",
                             daemon=True).start()

    def _receive(self, sock: socket.socket) -> None:
        while not self._closed:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            ids = {part for part in data.decode("ascii", "replace").split(",") if part}
            if ids:
                self._wake_local(ids)

    def _wake_local(self, job_ids: set[str]) -> None:
        with self._mutex:
            for job_id in job_ids | {ANY_JOB}:
                self._generations[job_id] = self._generations.get(job_id, 0) + 1
                if (entry := self._conditions.get(job_id)) is not None:
                    # the first to wake answers for the crowd, then releases it; the
                    # dispatcher's catch-all subscription has no crowd to lead
                    entry[0].notify(1) if job_id != ANY_JOB else entry[0].notify_all()
        for listener in list(self._listeners):
            try:
                listener(job_ids)
            except Exception:  # a listener's bug must not stop wake-ups
                log.exception("wake listener failed")

    # -- publishing ----------------------------------------------------------------
    def publish(self, job_ids: Iterable[str]) -> None:
        """Wake everything waiting on these jobs, in this process and the others."""
        ids = set(job_ids)
        if not ids:
            return
        self._wake_local(ids)
        if self._channel is not None:
            self._channel.publish(ids)
        if self._run_dir is None or not self._run_dir.is_dir():
            return
        own = self._sock_path
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            out.setblocking(False)
            for path in self._run_dir.glob("wake-*.sock"):
                if own is not None and path == own:
                    continue
                left = _send(out, path, ids)
                if left:
                    self._resender().add(path, left)

    def _resender(self) -> _Resender:
        with self._lock:
            if self._retry is None or not self._retry.alive():
                self._retry = _Resender()
            return self._retry

    # -- waiting -------------------------------------------------------------------
    def generation(self, job_id: str) -> int:
        """A counter that grows whenever ``job_id`` is published; read it before checking."""
        self._ensure_socket()
        with self._mutex:
            return self._generations.get(job_id, 0)

    def wait(self, job_id: str, since: int, timeout: float) -> bool:
        """Block until ``job_id`` is published after generation ``since``, or timeout.

        Returns whether a wake-up happened; once :meth:`stop_waiting` was
        called, returns ``True`` at once.
        """
        self._ensure_socket()
        deadline = time.monotonic() + max(0.0, timeout)
        with self._mutex:
            cond, count = self._conditions.get(job_id) or (threading.Condition(self._mutex), 0)
            self._conditions[job_id] = (cond, count + 1)
            try:
                while self._generations.get(job_id, 0) == since and not self._stopping:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    cond.wait(remaining)
                return True
            finally:
                cond, count = self._conditions[job_id]
                if count > 1:
                    self._conditions[job_id] = (cond, count - 1)
                else:
                    del self._conditions[job_id]

    def release(self, job_id: str) -> None:
        """Wake every request still blocked on ``job_id``: called by the one a change woke
        first, once it has done what the others will share (it must always be called, or
        the others wait for their re-read)."""
        with self._mutex:
            if (entry := self._conditions.get(job_id)) is not None:
                entry[0].notify_all()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop_waiting` was called: blocked requests should answer now."""
        return self._stopping

    def stop_waiting(self) -> None:
        """Wake every blocked :meth:`wait` and make later ones return at once (shutdown).

        Safe from any thread; publishing and subscribers keep working.
        """
        with self._mutex:
            self._stopping = True
            for cond, _count in self._conditions.values():
                cond.notify_all()

    def subscribe(self, listener: Callable[[set[str]], None]) -> None:
        """Call ``listener(job_ids)`` on every wake-up (the dispatcher's kick)."""
        self._ensure_socket()
        self._listeners.append(listener)

    def close(self) -> None:
        """Stop receiving and remove this process's socket."""
        self._closed = True
        if self._channel is not None:
            self._channel.close()
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.close()
                if self._sock_path is not None and self._pid == os.getpid():
                    self._sock_path.unlink(missing_ok=True)
                self._sock = None
