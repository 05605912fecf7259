"""Wake-ups: in-process, across processes of a host (sockets), across hosts (PostgreSQL)."""

from __future__ import annotations

import threading
import time

from tests.conftest import POSTGRES_BASE, _require_postgres
from uws_server.notify import WakeBus
from uws_server.notify_pg import PostgresChannel, libpq_url


def test_a_waiter_wakes_when_its_job_is_published_and_not_for_another_job():
    bus = WakeBus(None)
    generation = bus.generation("a")
    threading.Timer(0.2, bus.publish, args=({"b"},)).start()
    assert bus.wait("a", generation, 0.6) is False
    threading.Timer(0.1, bus.publish, args=({"a"},)).start()
    started = time.monotonic()
    assert bus.wait("a", generation, 5) is True
    assert time.monotonic() - started < 2


def test_buses_with_a_shared_run_directory_wake_each_other(tmp_path):
    # two buses of one process stand for two processes of one host
    waiter, publisher = WakeBus(tmp_path / "run"), WakeBus(tmp_path / "run")
    try:
        generation = waiter.generation("job")
        started = time.monotonic()
        publisher.publish({"job"})
        assert waiter.wait("job", generation, 5) is True
        assert time.monotonic() - started < 2
    finally:
        waiter.close()
        publisher.close()


def test_postgres_channel_wakes_a_waiter_on_another_host(tmp_path):
    _require_postgres()
    # different run directories: no socket path between them, only PostgreSQL
    waiter, publisher = WakeBus(tmp_path / "host-a"), WakeBus(tmp_path / "host-b")
    waiter.attach_channel(PostgresChannel(POSTGRES_BASE))
    publisher.attach_channel(PostgresChannel(POSTGRES_BASE))
    try:
        generation = waiter.generation("job-42")
        time.sleep(0.5)  # the listener connects and LISTENs
        started = time.monotonic()
        publisher.publish({"job-42"})
        assert waiter.wait("job-42", generation, 10) is True
        assert time.monotonic() - started < 3
    finally:
        waiter.close()
        publisher.close()


def test_libpq_url_drops_the_driver_name_and_keeps_options():
    url = libpq_url("postgresql+psycopg://u:p@db:5432/uws?options=-csearch_path%3Dx")
    assert url.startswith("postgresql://u:p@db:5432/uws?options=")
