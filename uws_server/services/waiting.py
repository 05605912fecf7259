"""Blocking ``WAIT`` (UWS §2.2.1.2): return when the phase changes, or at the deadline.

The wait is woken by the phase change itself through the :class:`WakeBus`
(published when the changing transaction commits); a re-read of the phase now
and then only guards against a wake-up lost between processes. Those re-reads
have a budget per process (:data:`RECHECKS_PER_SECOND`), so a thousand blocked
requests cost the database no more than a few.

Each blocked request holds one request thread (WSGI has no other way), and at
most ``max_waiters`` are blocked at once per process: the server gives its
workers that many threads on top of those for ordinary requests
(:mod:`uws_server.server`), so a crowd of waiters never delays a plain GET.
On shutdown :meth:`Waiter.shutdown` answers every blocked request at once.

The requests a change wakes together share one read of the phase and one
rendering of the document (:attr:`Waiter.shared`, keyed by the wake-up's
generation): a crowd of a thousand costs what one waiter costs.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from ..identity import Identity
from ..metrics import WAIT_BLOCKED
from ..notify import WakeBus
from ..phases import WAITABLE, ExecutionPhase
from .jobs import JobService
from .shared import SharedResults

T = TypeVar("T")

#: Least seconds between two database re-reads of one blocked request.
SAFETY_RECHECK = 5.0
#: Most database re-reads per second that all blocked requests of a process make together.
RECHECKS_PER_SECOND = 20.0


class Waiter:
    """Blocks requests on job phase changes, with a cap on time and on concurrent waiters.

    Parameters
    ----------
    max_wait
        The longest a request may block, seconds (``UWS_MAX_WAIT``).
    max_waiters
        How many requests may be blocked at once (``UWS_MAX_WAITERS``); past
        that, a ``WAIT`` is answered at once. 0: ``WAIT`` never blocks.
    """

    def __init__(self, jobs: JobService, bus: WakeBus, *, max_wait: int, max_waiters: int) -> None:
        self.jobs = jobs
        self.bus = bus
        self.max_wait = max_wait
        self.max_waiters = max(0, max_waiters)
        self._lock = threading.Lock()
        self._blocked = 0
        #: What the requests woken by one change share: their phase read and their document.
        self.shared = SharedResults()

    @property
    def blocked(self) -> int:
        """How many requests are blocked right now."""
        return self._blocked

    def shutdown(self) -> None:
        """Answer every blocked request now and block no new one: the process is stopping.

        Safe to call from any thread (not from a signal handler: it takes a lock).
        """
        self.bus.stop_waiting()

    def _enter(self) -> bool:
        with self._lock:
            if self._blocked >= self.max_waiters:
                return False
            self._blocked += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self._blocked -= 1

    def _recheck_interval(self) -> float:
        """Seconds until a blocked request re-reads its phase: the budget shared out."""
        return max(SAFETY_RECHECK, self._blocked / RECHECKS_PER_SECOND)

    def wait(self, identity: Identity, type_name: str, job_id: str, seconds: int,
             phase: ExecutionPhase | None, answer: Callable[[], T],
             answer_key: Hashable = ()) -> T | None:
        """Block while the job stays in its current (waitable) phase.

        Parameters
        ----------
        seconds
            The client's ``WAIT``; -1 (or any negative) means "as long as allowed".
        phase
            The client's ``PHASE``: block only if the job is in that phase now.
        answer
            Makes the response to a change (the job's document).
        answer_key
            What makes one request's response differ from another's (format, base URL).

        Returns
        -------
        The ``answer()`` shared by every request woken by the same change with the same
        ``answer_key`` (computed once, by the first of them), or ``None`` when the request
        returns for any other reason (not blocked, the deadline, a re-read, the process
        stopping): the caller then answers for itself.
        """
        start = self.jobs.phase_of(identity, type_name, job_id)
        if start not in WAITABLE or (phase is not None and start is not phase) or seconds == 0:
            return None
        timeout = self.max_wait if seconds < 0 else min(seconds, self.max_wait)
        if timeout <= 0 or self.bus.stopping or not self._enter():
            return None  # too many blocked requests, or stopping: answer now, not later
        gauge = WAIT_BLOCKED.labels(type_name)
        gauge.inc()
        try:
            deadline = time.monotonic() + timeout
            # spread the first re-read: requests that arrive together need not re-read together
            interval = random.uniform(0.5, 1.0) * self._recheck_interval()
            checked: int | None = None  # a generation whose phase the crowd read already
            while True:
                # the generation first: a change committed after this read wakes the wait
                generation = self.bus.generation(job_id)
                if self.bus.stopping:
                    return None
                if generation != checked and \
                        self.jobs.phase_of(identity, type_name, job_id) is not start:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if self.bus.wait(job_id, generation, min(remaining, interval)):
                    checked, changed = self._after_wake(identity, type_name, job_id, start,
                                                        answer, answer_key)
                    if changed is not None:
                        return changed[0]
                interval = self._recheck_interval()
        finally:
            gauge.dec()
            self._leave()

    def _after_wake(self, identity: Identity, type_name: str, job_id: str,
                    start: ExecutionPhase, answer: Callable[[], T], answer_key: Hashable
                    ) -> tuple[int, tuple[T] | None]:
        """A wake-up: the phase read once for the crowd, and if it moved, the answer made
        once. Returns the generation read and the answer (``None``: still in ``start``).

        The first request a change wakes (:meth:`WakeBus.wait`) does both while the others
        sleep, then releases them (:meth:`WakeBus.release`): they find both ready.
        """
        generation = self.bus.generation(job_id)
        try:
            now = self.shared.get(("phase", job_id, generation),
                                  lambda: self.jobs.phase_of(identity, type_name, job_id))
            if now is start or self.bus.stopping:
                return generation, None
            return generation, (self.shared.get(("answer", job_id, generation, answer_key),
                                                answer),)
        finally:
            self.bus.release(job_id)
