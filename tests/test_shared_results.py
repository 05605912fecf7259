"""One computation per key for the threads that ask together (services.shared)."""

from __future__ import annotations

import threading
import time

import pytest

from uws_server.services.shared import SharedResults


def _crowd(count: int, target) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def test_threads_asking_for_one_key_together_share_one_computation():
    shared, calls, answers = SharedResults(), [], []
    gate = threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)  # the others arrive while this one computes
        return "document"

    threads = _crowd(20, lambda: answers.append(shared.get(("job", 1), compute)))
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1
    assert answers == ["document"] * 20


def test_a_failed_computation_is_not_shared_each_waiting_thread_computes_for_itself():
    shared, calls = SharedResults(), []
    gate = threading.Event()

    def first():
        calls.append("first")
        gate.wait(5)
        raise LookupError("gone")

    def others():
        calls.append("other")
        return "mine"

    failures: list[BaseException] = []

    def run_first():
        try:
            shared.get("key", first)
        except LookupError as exc:
            failures.append(exc)

    owner = threading.Thread(target=run_first, daemon=True)
    owner.start()
    time.sleep(0.1)
    answers: list[str] = []
    threads = _crowd(3, lambda: answers.append(shared.get("key", others)))
    time.sleep(0.1)
    gate.set()
    owner.join(5)
    for thread in threads:
        thread.join(5)
    assert len(failures) == 1
    assert answers == ["mine"] * 3 and calls.count("other") == 3


def test_different_keys_are_computed_apart_and_old_keys_are_forgotten():
    shared = SharedResults(kept=2)
    assert [shared.get(n, lambda n=n: n * 10) for n in (1, 2, 3)] == [10, 20, 30]
    assert shared.get(3, lambda: pytest.fail("key 3 is remembered")) == 30
    assert shared.get(1, lambda: "again") == "again"  # forgotten: computed anew
