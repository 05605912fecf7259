"""Blocking ``WAIT`` (UWS §2.2.1.2): return when the phase changes, or at the deadline.

The wait is woken by the phase change itself through the :class:`WakeBus`
(published when the changing transaction commits); a re-read every few
seconds only guards against a wake-up lost between processes.
"""

from __future__ import annotations

import threading
import time

from ..identity import Identity
from ..notify import WakeBus
from ..phases import WAITABLE, ExecutionPhase
from .jobs import JobService

#: Longest sleep between two database re-reads while blocked.
SAFETY_RECHECK = 5.0


class Waiter:
    """Blocks requests on job phase changes, with a cap on time and on concurrent waiters."""

    def __init__(self, jobs: JobService, bus: WakeBus, *, max_wait: int, max_waiters: int) -> None:
        self.jobs = jobs
        self.bus = bus
        self.max_wait = max_wait
        self._slots = threading.BoundedSemaphore(max(1, max_waiters))

    def wait(self, identity: Identity, type_name: str, job_id: str, seconds: int,
             phase: ExecutionPhase | None) -> None:
        """Block while the job stays in its current (waitable) phase.

        Parameters
        ----------
        seconds
            The client's ``WAIT``; -1 (or any negative) means "as long as allowed".
        phase
            The client's ``PHASE``: block only if the job is in that phase now.
        """
        start = self.jobs.phase_of(identity, type_name, job_id)
        if start not in WAITABLE or (phase is not None and start is not phase) or seconds == 0:
            return
        timeout = self.max_wait if seconds < 0 else min(seconds, self.max_wait)
        if timeout <= 0 or not self._slots.acquire(blocking=False):
            return  # too many blocked requests: answer now rather than hold a worker
        try:
            deadline = time.monotonic() + timeout
            while True:
                generation = self.bus.generation(job_id)
                if self.jobs.phase_of(identity, type_name, job_id) is not start:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self.bus.wait(job_id, generation, min(remaining, SAFETY_RECHECK))
        finally:
            self._slots.release()
