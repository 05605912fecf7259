"""Clients that ask for ``Connection: close`` and then sit idle do not stall the server.

gunicorn's gthread worker lingered (up to 2 s each, on its event loop) for every
such client to close its end, so five idle clients held every other request for
~10 s. The worker now hands those closes to :class:`uws_server.lingering.Closer`.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import requests

from tests.hardening.rawhttp import port_of
from uws_server.lingering import LINGER_SECONDS, Closer

IDLE_CLIENTS = 5


def _closing_request(url: str) -> socket.socket:
    """A socket that sent a GET with ``Connection: close`` and will never close its end."""
    host = urlsplit(url).netloc
    sock = socket.create_connection(("127.0.0.1", port_of(url)), timeout=30)
    sock.sendall(f"GET /uws HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    return sock


def _read_to_fin(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_idle_clients_after_connection_close_do_not_stall_other_requests(server):
    requests.get(f"{server.url}/uws", timeout=30).raise_for_status()  # warm
    idle = [_closing_request(server.url) for _ in range(IDLE_CLIENTS)]
    try:
        started = time.monotonic()
        assert requests.get(f"{server.url}/uws", timeout=60).status_code == 200
        waited = time.monotonic() - started
        for sock in idle:  # each got its whole answer, then the server's FIN
            assert _read_to_fin(sock).startswith(b"HTTP/1.1 200")
    finally:
        for sock in idle:
            sock.close()
    # Lingering on the event loop held this request behind every idle client in turn
    # (IDLE_CLIENTS x 2 s); one linger's length is far more than an answer needs.
    assert waited < 2 * LINGER_SECONDS, f"a GET waited {waited:.1f} s behind idle clients"


def test_closer_closes_at_the_clients_fin_or_after_the_linger():
    closer = Closer(linger=0.5)
    prompt_server, prompt_client = socket.socketpair()
    silent_server, silent_client = socket.socketpair()
    try:
        closer.close(prompt_server)
        closer.close(silent_server)
        assert prompt_client.recv(10) == b""  # FIN sent at once
        assert silent_client.recv(10) == b""
        prompt_client.close()
        deadline = time.monotonic() + 5
        while prompt_server.fileno() != -1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert prompt_server.fileno() == -1  # closed at the client's FIN ...
        while silent_server.fileno() != -1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert silent_server.fileno() == -1  # ... and the silent one after its linger
        assert closer.pending() == 0
    finally:
        silent_client.close()
