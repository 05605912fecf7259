"""The UWS execution phases and which changes between them are legal (pure)."""

from __future__ import annotations

import enum


class ExecutionPhase(enum.StrEnum):
    """The ten phases of UWS 1.1 §2.1.3, spelt as the schema spells them."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"

    @classmethod
    def parse(cls, text: str) -> ExecutionPhase:
        """Parse a phase name in any case; ``ValueError`` names the bad value."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            raise ValueError(f"unknown phase {text!r}") from None


P = ExecutionPhase

#: Phases in which a job will still change without a client doing anything.
ACTIVE = frozenset({P.QUEUED, P.EXECUTING, P.SUSPENDED, P.HELD, P.UNKNOWN})

#: Phases a blocking WAIT may block in (UWS §2.2.1.2).
WAITABLE = frozenset({P.PENDING, P.QUEUED, P.EXECUTING})

#: Phases after which no more work is done.
FINISHED = frozenset({P.COMPLETED, P.ERROR, P.ABORTED, P.ARCHIVED})

#: The legal transitions. Server-side moves follow the UWS state diagram,
#: plus QUEUED→COMPLETED/ERROR for jobs a backend finished before we saw them
#: run, EXECUTING→QUEUED for a retry or an eviction, and HELD/SUSPENDED→
#: finished phases because clusters do that.
TRANSITIONS: dict[ExecutionPhase, frozenset[ExecutionPhase]] = {
    P.PENDING: frozenset({P.QUEUED, P.HELD, P.ABORTED, P.ERROR}),
    P.QUEUED: frozenset(
        {P.EXECUTING, P.COMPLETED, P.ERROR, P.ABORTED, P.HELD, P.SUSPENDED, P.UNKNOWN}
    ),
    P.EXECUTING: frozenset(
        {P.COMPLETED, P.ERROR, P.ABORTED, P.HELD, P.SUSPENDED, P.QUEUED, P.UNKNOWN}
    ),
    P.HELD: frozenset({P.QUEUED, P.EXECUTING, P.ABORTED, P.ERROR, P.COMPLETED}),
    P.SUSPENDED: frozenset({P.EXECUTING, P.QUEUED, P.ABORTED, P.ERROR, P.COMPLETED}),
    P.UNKNOWN: frozenset({P.QUEUED, P.EXECUTING, P.COMPLETED, P.ERROR, P.ABORTED}),
    P.COMPLETED: frozenset({P.ARCHIVED}),
    P.ERROR: frozenset({P.ARCHIVED}),
    P.ABORTED: frozenset({P.ARCHIVED}),
    P.ARCHIVED: frozenset(),
}


def can_transition(current: ExecutionPhase, new: ExecutionPhase) -> bool:
    """Whether a job may move from ``current`` to ``new``."""
    return new in TRANSITIONS[current]
