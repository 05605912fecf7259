"""Graceful socket closes off the event loop: a lingering close that never blocks it.

gunicorn's gthread worker ends a ``Connection: close`` exchange with an RFC 9112
§9.6 close: half-close, then read until the client closes or 2 s pass. It does
so on the thread that runs the worker's event loop, in blocking mode, so each
client that neither closes nor sends stops the whole worker for 2 s: five such
clients stall every request for 10 s. :class:`Closer` does the same close for
every such socket at once on one thread of its own, with a selector: the event
loop hands the socket over and goes on.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import threading
import time

#: How long a half-closed socket waits for its client's FIN (gunicorn's value).
LINGER_SECONDS = 2.0
#: Bytes read from a lingering socket before it is closed anyway (gunicorn's value).
MAX_DRAIN = 65536


class Closer:
    """Half-closes sockets and closes them when their client has, or after a linger.

    Parameters
    ----------
    linger
        Seconds a socket may wait for its client's FIN.
    max_drain
        Bytes of unread request data drained before closing anyway.
    """

    def __init__(self, linger: float = LINGER_SECONDS, max_drain: int = MAX_DRAIN) -> None:
        self.linger = linger
        self.max_drain = max_drain
        self._incoming: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)
        self._pending = 0
        self._thread = threading.Thread(target=self._run, name="lingering-close", daemon=True)
        self._thread.start()

    def close(self, sock: socket.socket) -> None:
        """Send FIN now; the full close follows on the closer's thread (never blocks)."""
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
        except OSError:
            _close(sock)
            return
        self._incoming.put(sock)
        with contextlib.suppress(OSError):  # a full wake-up pipe: the closer is awake anyway
            self._wake_write.send(b"\0")

    def pending(self) -> int:
        """Sockets waiting for their client's FIN (for tests and diagnostics)."""
        return self._pending

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_read, selectors.EVENT_READ, None)
        deadlines: dict[socket.socket, tuple[float, int]] = {}
        while True:
            timeout = (min(d for d, _ in deadlines.values()) - time.monotonic()
                       if deadlines else None)
            for key, _events in selector.select(None if timeout is None else max(0.0, timeout)):
                if key.data is None:
                    self._take(selector, deadlines)
                    continue
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if self._drain(sock, deadlines):
                    self._finish(selector, deadlines, sock)
            now = time.monotonic()
            for sock in [s for s, (deadline, _) in deadlines.items() if deadline <= now]:
                self._finish(selector, deadlines, sock)
            self._pending = len(deadlines)

    def _take(self, selector: selectors.BaseSelector,
              deadlines: dict[socket.socket, tuple[float, int]]) -> None:
        try:
            while self._wake_read.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                sock = self._incoming.get_nowait()
            except queue.Empty:
                return
            try:
                selector.register(sock, selectors.EVENT_READ, True)
            except (OSError, ValueError):
                _close(sock)
                continue
            deadlines[sock] = (time.monotonic() + self.linger, 0)

    def _drain(self, sock: socket.socket,
               deadlines: dict[socket.socket, tuple[float, int]]) -> bool:
        """Read what the client sent; whether the socket is done (FIN, error, or too much)."""
        deadline, drained = deadlines[sock]
        while True:
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                deadlines[sock] = (deadline, drained)
                return False
            except OSError:
                return True
            if not data:
                return True
            drained += len(data)
            if drained >= self.max_drain:
                return True

    @staticmethod
    def _finish(selector: selectors.BaseSelector,
                deadlines: dict[socket.socket, tuple[float, int]], sock: socket.socket) -> None:
        deadlines.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(sock)
        _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
