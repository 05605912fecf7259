"""The one mapping between UWS phases and Agave job statuses, and ``maxRunTime``.

Agave knows more statuses than UWS has phases (staging, archiving...); this
service reports only those a UWS phase stands for. The table is documented
in docs/agave.md; searching by an Agave status uses the same table backwards.
"""

from __future__ import annotations

import re

from ...errors import InvalidParameter
from ...phases import ExecutionPhase

P = ExecutionPhase

#: UWS phase -> Agave status. UNKNOWN and ARCHIVED have no Agave counterpart and keep
#: their UWS names: a client must not mistake a lost job for a running one, nor a job
#: whose outputs were deleted for one whose outputs were archived.
STATUS_OF_PHASE: dict[ExecutionPhase, str] = {
    P.PENDING: "PENDING",
    P.QUEUED: "QUEUED",
    P.EXECUTING: "RUNNING",
    P.COMPLETED: "FINISHED",
    P.ERROR: "FAILED",
    P.ABORTED: "STOPPED",
    P.HELD: "PAUSED",
    P.SUSPENDED: "PAUSED",
    P.UNKNOWN: "UNKNOWN",
    P.ARCHIVED: "ARCHIVED",
}

#: Agave statuses a job of this service can be in.
STATUSES = frozenset(STATUS_OF_PHASE.values())


def status_of(phase: str) -> str:
    """The Agave status of a UWS phase name."""
    return STATUS_OF_PHASE[ExecutionPhase(phase)]


def phases_of(status: str) -> list[str]:
    """The UWS phases an Agave status stands for (any case); 400 for an unknown status."""
    wanted = status.strip().upper()
    found = [phase.value for phase, name in STATUS_OF_PHASE.items() if name == wanted]
    if not found:
        raise InvalidParameter(f"status: unknown status {status!r}; expected one of "
                               + ", ".join(sorted(STATUSES)))
    return found


_RUN_TIME = re.compile(r"^(\d{1,6}):([0-5]\d):([0-5]\d)$")


def parse_max_run_time(text: str) -> int:
    """``HH:mm:ss`` (hours may pass 24) to seconds; 400 naming the field otherwise."""
    match = _RUN_TIME.fullmatch(text.strip())
    if match is None:
        raise InvalidParameter(f"maxRunTime: expected HH:mm:ss, got {text[:40]!r}")
    hours, minutes, seconds = (int(group) for group in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_max_run_time(seconds: int) -> str | None:
    """Seconds to ``HH:mm:ss``; ``None`` for 0 (UWS: no limit)."""
    if seconds <= 0:
        return None
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
