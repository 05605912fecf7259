"""Fault injection (issue 15): SIGSTOP of the lease holder past its lease, on PostgreSQL.

Two real ``uws-server worker`` processes share one PostgreSQL database with a
2 s lease (``UWS_LEASE_SECONDS``). Each trial queues three ``append`` jobs
(each run of the program appends a line to its job's ``runs.log``), waits a
random 0-300 ms so that the holder is caught anywhere in its tick (renewing,
claiming, submitting, following), SIGSTOPs the lease holder, waits until the
other worker takes the lease over, keeps the holder stopped a random 0-500 ms
more and SIGCONTs it: it resumes wherever it was, with a stale epoch. The
workers swap roles from trial to trial. At the end both run until every job is
final. No job may be lost (not COMPLETED, or its program never ran),
duplicated (its program ran more than once) or stuck; every pause must end in a
takeover (a standby that cannot take over is a stalled queue). A first,
deterministic test pauses the holder inside its claim transaction.

``UWS_TEST_LEASE_TRIALS`` sets the number of trials (CI: 3, about 10 s);
``UWS_TEST_FAULT_SEED`` replays a sequence. The counts are printed (``pytest -s``).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_BASE, _require_postgres
from tests.hardening.dispatch_kit import (
    outcome,
    phases_of,
    runs,
    start_worker,
    stop,
    wait_until,
    worker_env,
    write_manifests,
)
from tests.support import postgres_schema
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.local.executor import LocalExecutor
from uws_server.identity import ANONYMOUS
from uws_server.jobtypes import service as jobtypes
from uws_server.models import DispatcherLease, Job
from uws_server.wiring import Components, bootstrap, build_components

pytestmark = pytest.mark.postgres

TRIALS = int(os.environ.get("UWS_TEST_LEASE_TRIALS", "3"))
JOBS_PER_TRIAL = 3
LEASE_SECONDS = 2.0
#: A takeover must come within the lease plus this (ticks every 50 ms, a worker's start-up).
TAKEOVER_SLACK = 8.0
FINAL = ("COMPLETED", "ERROR", "ABORTED")


@pytest.fixture
def pg_components(tmp_path: Path) -> Iterator[Components]:
    """A migrated PostgreSQL schema of its own, and the service around it."""
    _require_postgres()
    with postgres_schema(POSTGRES_BASE, f"uws_lease_{uuid.uuid4().hex[:10]}") as url:
        settings = Settings(data_dir=tmp_path / "data", database_url=url, poll_interval=0.05)
        bootstrap(settings)
        parts = build_components(settings)
        yield parts
        parts.bus.close()
        parts.db.dispose()


def test_a_holder_paused_inside_its_claim_frees_the_lease_and_ends_no_job(
        pg_components, tmp_path, monkeypatch):
    """Paused while its claim transaction holds the lease row: PostgreSQL ends its session
    after the lease duration, the successor takes over, and the resumed holder (its
    session gone) neither ends the job in ERROR nor submits it."""
    parts = pg_components
    with parts.db.write() as session:
        jobtypes.load_directory(session, write_manifests(tmp_path / "manifests"))
    job_id = parts.jobs.create(ANONYMOUS, "append", [("seconds", "0"), ("PHASE", "RUN")], {}).id
    first, second = (Dispatcher(parts, LocalExecutor(parts.settings.jobs_dir, 2))
                     for _ in range(2))
    first.lease.seconds = second.lease.seconds = 1.0
    paused, resume = threading.Event(), threading.Event()
    real_interface_of = jobtypes.interface_of

    def interface_of(revision: object) -> object:  # inside the claim, the row locked
        if not paused.is_set():
            paused.set()
            assert resume.wait(60)
        return real_interface_of(revision)

    monkeypatch.setattr(jobtypes, "interface_of", interface_of)
    tick = threading.Thread(target=first.tick)
    tick.start()
    took: list[bool] = []
    try:
        assert paused.wait(30)
        taker = threading.Thread(target=lambda: took.append(wait_until(second.lease.renew, 10)))
        taker.start()
        taker.join(20)  # a renewal blocked on the row lock never returns while paused
    finally:
        resume.set()
        tick.join(30)
    assert took == [True], "the successor waited on the paused holder's lock"
    assert not tick.is_alive() and first.executor._children == {}
    with parts.db.read() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.phase, job.submit_token, job.tries) == ("QUEUED", None, 0)
    deadline = time.monotonic() + 60
    while _phase(parts, job_id) not in FINAL and time.monotonic() < deadline:
        second.tick()
        time.sleep(0.05)
    assert _phase(parts, job_id) == "COMPLETED"
    assert runs(parts.storage.job_dir(job_id)) == 1


def _phase(parts: Components, job_id: str) -> str | None:
    with parts.db.read() as session:
        job = session.get(Job, job_id)
        return None if job is None else job.phase


def _holder_pid(parts: Components) -> int | None:
    """The pid of the worker holding the lease (its name is ``host:pid:random``)."""
    with parts.db.read() as session:
        lease = session.get(DispatcherLease, 1)
    if lease is None:
        return None
    pid = lease.holder.split(":")[1]
    return int(pid) if pid.isdigit() else None


def _signal(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, sig)


def test_sigstop_of_the_lease_holder_past_its_lease_loses_duplicates_and_strands_nothing(
        pg_components, tmp_path):
    parts = pg_components
    seed = int(os.environ.get("UWS_TEST_FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    manifests = write_manifests(tmp_path / "manifests")
    with parts.db.write() as session:
        jobtypes.load_directory(session, manifests)
    env = worker_env(parts.settings.data_dir, parts.settings.effective_database_url, manifests,
                     UWS_LOCAL_CONCURRENCY="8", UWS_LEASE_SECONDS=str(LEASE_SECONDS))
    workers = [start_worker(env, tmp_path / f"worker-{n}.log") for n in range(2)]
    by_pid = {worker.pid: worker for worker in workers}
    job_ids: list[str] = []
    takeovers: list[float] = []
    blocked = 0
    started = time.monotonic()

    def phases() -> dict[str, str]:
        return phases_of(parts.db, job_ids)

    try:
        assert wait_until(lambda: _holder_pid(parts) in by_pid, 60, step=0.05), \
            (tmp_path / "worker-0.log").read_text()
        for _ in range(TRIALS):
            holder = by_pid[_holder_pid(parts) or 0]
            job_ids += [parts.jobs.create(ANONYMOUS, "append",
                                          [("seconds", "0"), ("PHASE", "RUN")], {}).id
                        for _ in range(JOBS_PER_TRIAL)]
            time.sleep(rng.uniform(0.0, 0.3))
            _signal(holder, signal.SIGSTOP)
            paused = time.monotonic()
            try:
                took = wait_until(lambda h=holder: _holder_pid(parts) not in (h.pid, None),
                                  LEASE_SECONDS + TAKEOVER_SLACK, step=0.02)
                if took:
                    takeovers.append(time.monotonic() - paused)
                    time.sleep(rng.uniform(0.0, 0.5))
                else:
                    blocked += 1
            finally:
                _signal(holder, signal.SIGCONT)
        wait_until(lambda: all(p in FINAL for p in phases().values()), 120, step=0.2)
    finally:
        for worker in workers:
            _signal(worker, signal.SIGCONT)
            stop(worker)
    seen = phases()
    counts = {job_id: runs(parts.storage.job_dir(job_id)) for job_id in job_ids}
    lost, duplicated, stuck = outcome(job_ids, seen, counts)
    slowest = max(takeovers, default=0.0)
    print(f"\nSIGSTOP past the lease (postgresql, seed {seed}): {TRIALS} pauses, "
          f"{len(job_ids)} jobs, {len(takeovers)} takeovers (slowest {slowest:.1f} s), "
          f"{blocked} blocked; lost {len(lost)}, duplicated {len(duplicated)}, "
          f"stuck {len(stuck)}; {time.monotonic() - started:.0f} s")
    assert (lost, duplicated, stuck) == ([], [], []), {j: (seen.get(j), counts[j])
                                                        for j in lost + duplicated + stuck}
    assert blocked == 0, f"{blocked} of {TRIALS} pauses: the standby never took the lease over"
