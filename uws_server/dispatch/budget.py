"""What a submission step may still do, and the ways it stops.

Shared by the one-job path (:mod:`.submission`) and the bulk path (:mod:`.bulk`).
"""

from __future__ import annotations

from ..executors.base import ExecutorError


class LeaseLost(Exception):
    """Another dispatcher holds the lease now: submit nothing more."""


class PreparationError(Exception):
    """A job cannot be turned into something a backend runs; the message says why."""


def preparation_message(exc: Exception) -> str:
    """Why a job cannot be prepared, in one line (an executor's refusal as it said it)."""
    text = " ".join(str(exc).split())[:300]
    if isinstance(exc, ExecutorError):
        return f"cannot submit: {text}"
    return f"cannot prepare the job: {type(exc).__name__}: {text}"


class Budget:
    """What one tick may still hand over: free backend slots, and room under each type's cap.

    Parameters
    ----------
    slots
        The executor's free slots at the start of the tick.
    running
        Active jobs per job type id (``max_scheduled`` counts these).
    caps
        ``max_scheduled`` per job type id, for the types that have one.
    """

    def __init__(self, slots: int, running: dict[int, int], caps: dict[int, int | None]) -> None:
        self.slots = slots
        self.running = running
        self.caps = caps

    def room(self, type_id: int) -> int:
        """How many more jobs of this type may go now (slots and cap)."""
        cap = self.caps.get(type_id)
        if cap is None:
            return self.slots
        return min(self.slots, cap - self.running.get(type_id, 0))

    def charge(self, type_id: int, *, jobs: int, slots: int) -> None:
        """Count ``jobs`` handed over, taking ``slots`` of the backend."""
        self.slots -= slots
        self.running[type_id] = self.running.get(type_id, 0) + jobs
