"""Fault: the process that sends webhooks is killed mid-attempt; its successor delivers.

The delivery was committed with the phase change (the outbox) and claimed for one attempt;
``kill -9`` of the gunicorn worker (which runs the dispatcher and the sender) leaves the claim
to lapse, and the worker gunicorn starts in its place sends it again: at least once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, job_id_of, own_database
from tests.webhooks.conftest import SECRET, SERVER_ENV
from tests.webhooks.history import delivery_states, notification_notes
from tests.webhooks.receiver import Receiver
from uws_server.dispatch import signing


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def test_a_sender_killed_mid_attempt_leaves_the_delivery_to_its_successor(
        database_url: str, tmp_path: Path, receiver: Receiver):
    path = f"/crash-{os.getpid()}-{time.monotonic_ns()}"
    gate = threading.Event()
    receiver.gates[path] = gate  # the first attempt gets no answer until the sender is dead
    env = {**SERVER_ENV, "UWS_WEBHOOK_TIMEOUT": "1"}  # a claim then lapses after 11 s
    with (own_database(database_url, tmp_path, "crash", POSTGRES_BASE) as url,
          LiveServer.start(tmp_path, url, **env) as server):
        job = server.create("echo", {"message": "hi", "PHASE": "RUN",
                                     "NOTIFICATION.URL": f"{receiver.url}{path}",
                                     "NOTIFICATION.EVENT": "COMPLETED"})
        assert server.wait_phase(job, {"COMPLETED", "ERROR"}) == "COMPLETED"
        job_id = job_id_of(job)
        receiver.wait_for(path, 1)
        workers = _children(server.process.pid)
        assert len(workers) == 1, workers
        os.kill(workers[0], signal.SIGKILL)
        gate.set()
        assert delivery_states(url, job_id) == [("COMPLETED", "pending", 1)]
        first, second = receiver.wait_for(path, 2, timeout=60)
        assert second.headers["X-UWS-Delivery"] == first.headers["X-UWS-Delivery"]
        assert second.body == first.body
        assert signing.verify(SECRET.encode(), second.headers["X-UWS-Signature"], second.body)
        deadline = time.monotonic() + 10
        while delivery_states(url, job_id)[0][1] == "pending" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert delivery_states(url, job_id) == [("COMPLETED", "delivered", 2)]
        notes = notification_notes(url, job_id)
        assert len(notes) == 1 and "attempt 2" in notes[0] and "HTTP 200" in notes[0], notes
