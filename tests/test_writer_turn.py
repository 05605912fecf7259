"""SQLite writers queue for their turn, across threads and processes, and never wait forever."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from uws_server import db as dbmodule
from uws_server.db import WriterTurn


def _hold_in_child(path: str, ready: object, release: object) -> None:
    turn = WriterTurn(Path(path))
    with turn.held():
        ready.set()  # type: ignore[attr-defined]
        release.wait(30)  # type: ignore[attr-defined]


def test_a_second_process_waits_for_the_turn_and_gets_it_once_released(tmp_path):
    path = tmp_path / "uws.sqlite3"
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    child = context.Process(target=_hold_in_child, args=(str(path), ready, release))
    child.start()
    try:
        assert ready.wait(30)
        got = threading.Event()

        def take() -> None:
            with WriterTurn(path).held():
                got.set()

        taker = threading.Thread(target=take)
        taker.start()
        assert not got.wait(0.3)  # the child holds the turn
        release.set()
        assert got.wait(10)
        taker.join(10)
    finally:
        release.set()
        child.join(10)


def test_threads_take_turns_and_a_thread_may_nest(tmp_path):
    turn = WriterTurn(tmp_path / "uws.sqlite3")
    inside, most = 0, 0
    lock = threading.Lock()

    def write() -> None:
        nonlocal inside, most
        for _ in range(50):
            with turn.held(), turn.held():  # re-entrant within a thread
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most == 1


def test_a_holder_that_never_lets_go_is_waited_for_only_so_long(tmp_path, monkeypatch):
    path = tmp_path / "uws.sqlite3"
    monkeypatch.setattr(dbmodule, "TURN_TIMEOUT", 0.3)
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    child = context.Process(target=_hold_in_child, args=(str(path), ready, release))
    child.start()
    try:
        assert ready.wait(30)
        started = time.monotonic()
        with WriterTurn(path).held():
            waited = time.monotonic() - started
        assert 0.25 <= waited < 10  # went ahead without the turn; SQLite's locking decides
    finally:
        release.set()
        child.join(10)
