"""Reason strings the service writes into HTCondor, so that it recognises them later.

A removal carries a ``RemoveReason`` (in the queue/history ad and in the
event log's 009 event). The service tells its own removals apart from anybody
else's by these prefixes, which never change between releases.
"""

from __future__ import annotations

import re

#: ``Schedd.act(Remove, ..., reason)`` when a UWS client aborts the job.
ABORT_REASON = "uws-server: aborted by the service"

#: ``PeriodicRemoveReason`` of every job: the execution duration was exceeded.
DURATION_REASON = "uws-server: execution duration exceeded"

#: Prefix of the reason used to remove a job held for a system failure.
HOLD_CLEANUP_PREFIX = "uws-server: removed after hold: "

#: Prefix of the reason used to remove an orphan (a job no UWS job knows).
ORPHAN_REASON = "uws-server: orphan job (unknown UWS job id)"

#: ``Schedd.act(Release, ..., reason)`` when a UWS client runs a held job again.
RELEASE_REASON = "uws-server: released by the service (PHASE=RUN)"

#: Name of the attribute holding the duration limit (seconds, 0 = none).
DURATION_ATTR = "UwsMaxDuration"


def is_service_abort(reason: str | None) -> bool:
    """Whether a removal was an abort asked for by the service."""
    return bool(reason) and reason.startswith(ABORT_REASON)  # type: ignore[union-attr]


def is_duration_removal(reason: str | None) -> bool:
    """Whether a removal came from the duration ``periodic_remove`` policy.

    Besides our ``PeriodicRemoveReason`` text, HTCondor's default reason quotes
    the expression ("The job attribute PeriodicRemove expression '...'
    evaluated to TRUE"), which names :data:`DURATION_ATTR`.
    """
    if not reason:
        return False
    return reason.startswith(DURATION_REASON) or (
        "PeriodicRemove" in reason and DURATION_ATTR in reason
    )


def hold_cleanup_reason(hold_reason: str) -> str:
    """The removal reason for a job held for a system failure."""
    return HOLD_CLEANUP_PREFIX + hold_reason


#: What the schedd appends to a reason given with ``Schedd.act``: " (by user NAME)".
_BY_USER = re.compile(r" \(by user [^()]*\)$")


def held_reason_of(remove_reason: str | None) -> str | None:
    """The hold reason embedded by :func:`hold_cleanup_reason`, else ``None``.

    The schedd's " (by user NAME)" suffix is not part of the hold reason.
    """
    if remove_reason and remove_reason.startswith(HOLD_CLEANUP_PREFIX):
        return _BY_USER.sub("", remove_reason[len(HOLD_CLEANUP_PREFIX) :])
    return None
