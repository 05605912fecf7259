"""Issue 15 item 15: a job that fills its disk ends in ERROR saying so, and is not retried.

The job directories live on a real 1 MiB tmpfs mounted for the test (the
database elsewhere); the ``diskfill`` job writes until ENOSPC. Before the fix,
the supervisor could not write the exit status either, the job was taken for
a system failure and run again (``max_tries`` times), filling the disk again.
Skipped where tmpfs cannot be mounted (not root).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.dispatch_kit import write_manifests
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.base import BackendState, JobHandle
from uws_server.executors.local.executor import LocalExecutor
from uws_server.identity import ANONYMOUS
from uws_server.jobtypes import service as jobtypes
from uws_server.models import Job
from uws_server.wiring import Components


@pytest.fixture
def settings_overrides(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Mount a 1 MiB tmpfs where ``components`` puts its job directories."""
    jobs = tmp_path / "data" / "jobs"
    jobs.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(jobs)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield {}
    finally:
        subprocess.run(["umount", "-l", str(jobs)], check=False)


def _run(parts: Components, tmp_path: Path) -> Job:
    with parts.db.write() as session:
        jobtypes.load_directory(session, write_manifests(tmp_path / "manifests"))
    job = parts.jobs.create(ANONYMOUS, "diskfill", [("PHASE", "RUN")], {})
    dispatcher = Dispatcher(parts, LocalExecutor(parts.settings.jobs_dir, 1))
    deadline = time.monotonic() + 60
    while True:
        dispatcher.tick()
        with parts.db.read() as session:
            done = session.get(Job, job.id)
            assert done is not None
            if done.phase in ("COMPLETED", "ERROR", "ABORTED"):
                return done
        assert time.monotonic() < deadline, done.phase
        time.sleep(0.05)


def test_a_job_that_fills_its_disk_ends_in_error_saying_so_and_is_not_retried(components,
                                                                              tmp_path):
    done = _run(components, tmp_path)
    assert done.phase == "ERROR"
    assert "no space left on device" in (done.error_message or "").lower(), done.error_message
    assert done.tries == 1


def test_a_vanished_job_on_a_full_disk_is_a_disk_failure_not_a_system_failure(components):
    """Adopted after a restart, no exit status, disk full: the executor says why."""
    job_dir = components.storage.create("d" * 32)
    (job_dir / "fill").write_bytes(b"")
    with open(job_dir / "fill", "wb") as out, pytest.raises(OSError):
        while True:
            out.write(bytes(65536))
            out.flush()
    dead = subprocess.Popen(["true"])
    dead.wait()
    status = LocalExecutor(components.settings.jobs_dir, 1).poll(
        {"d" * 32: JobHandle(f"{dead.pid}:0", job_dir)})["d" * 32]
    assert status.state is BackendState.FAILED
    assert status.disk_full and not status.system_failure
    assert "no space left on device" in (status.reason or "")
