"""HTCondor events and job ads → :class:`~uws_server.executors.base.BackendStatus`.

Two sources say what became of a job: the events of its event log, folded one
by one into a small :class:`Fold` (pure, JSON-serialisable, so that it travels
in the dispatcher's cursor), and the job's ad from the queue or the history
(the reconciliation). Both use the same hold-code table, :func:`hold_action`.
Nothing here imports the bindings: events are read as plain mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from uws_server.executors.base import BackendState, BackendStatus
from uws_server.executors.htcondor import reasons

HoldAction = Literal["held", "queued", "failed"]

#: Holds a person (or ``hold = true`` at submit) put on: wait for a release.
USER_HOLD_CODES = frozenset({1, 15})  # UserRequest, SubmittedOnHold
#: Not really a hold: input files are being spooled to a remote schedd.
WAITING_HOLD_CODES = frozenset({16})  # SpoolingInput

#: Event type numbers (HTCondor's job event log codes).
SUBMIT, EXECUTE, EXECUTABLE_ERROR, CHECKPOINTED, EVICTED, TERMINATED = 0, 1, 2, 3, 4, 5
IMAGE_SIZE, SHADOW_EXCEPTION, ABORTED, SUSPENDED, UNSUSPENDED = 6, 7, 9, 10, 11
HELD, RELEASED, FILE_TRANSFER = 12, 13, 40
#: ``FileTransferEventType.OUT_STARTED``: the job finished, its output is moving.
OUTPUT_TRANSFER_STARTED = 5

#: Job ad attributes the reconciliation asks for (the query's projection).
PROJECTION = (
    "ClusterId",
    "ProcId",
    "JobStatus",
    "UwsJobId",
    "UwsSubmitToken",
    "UwsService",
    "ExitCode",
    "ExitBySignal",
    "ExitSignal",
    "HoldReasonCode",
    "HoldReasonSubCode",
    "HoldReason",
    "RemoveReason",
    "JobStartDate",
    "JobCurrentStartDate",
    "CompletionDate",
    "EnteredCurrentStatus",
)

_TERMINAL = {
    BackendState.COMPLETED.value,
    BackendState.FAILED.value,
    BackendState.CANCELLED.value,
    BackendState.TIMED_OUT.value,
}


def hold_action(code: int | None) -> HoldAction:
    """What a hold means for the service: wait for a release, wait, or fail.

    User holds and submit-on-hold (codes 1, 15) are UWS HELD; spooling input
    (16) is still queued; every other code (policy 3, exec failure 6, transfer
    12/13, out of resources 34, bad image 35, ...) is a system failure.
    """
    if code in USER_HOLD_CODES:
        return "held"
    if code in WAITING_HOLD_CODES:
        return "queued"
    return "failed"


def utc(epoch: float | int | None) -> datetime | None:
    """An aware UTC datetime from a Unix time (``None`` or 0 stay ``None``)."""
    if not epoch:
        return None
    return datetime.fromtimestamp(float(epoch), UTC)


@dataclass(frozen=True)
class Fold:
    """What the events read so far say about one job.

    ``needs_removal`` is set when the job failed by a hold and is still in the
    queue: the executor removes it (with a reason that keeps the hold reason).
    """

    state: str = BackendState.QUEUED.value
    exit_code: int | None = None
    reason: str | None = None
    started: int | None = None
    ended: int | None = None
    system_failure: bool = False
    cancelled_by_service: bool = False
    hold_code: int | None = None
    needs_removal: bool = False
    seen: bool = False

    @property
    def terminal(self) -> bool:
        """Whether the job reached an end (nothing but a removal changes it now)."""
        return self.state in _TERMINAL

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (for the cursor)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fold:
        """The inverse of :meth:`to_json`; unknown keys are ignored."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def _removed(fold: Fold, reason: str | None, ts: int) -> Fold:
    if fold.needs_removal or (fold.terminal and fold.state != BackendState.CANCELLED.value):
        return replace(fold, needs_removal=False)
    held = reasons.held_reason_of(reason)
    if held is not None:
        return replace(
            fold, state=BackendState.FAILED.value, reason=held, system_failure=True, ended=ts
        )
    if reasons.is_service_abort(reason):
        return replace(
            fold,
            state=BackendState.CANCELLED.value,
            reason=reason,
            cancelled_by_service=True,
            ended=ts,
        )
    if reasons.is_duration_removal(reason):
        return replace(fold, state=BackendState.TIMED_OUT.value, reason=reason, ended=ts)
    return replace(fold, state=BackendState.CANCELLED.value, reason=reason or "removed", ended=ts)


def _held(fold: Fold, code: int | None, reason: str | None, ts: int) -> Fold:
    action = hold_action(code)
    if action == "held":
        return replace(fold, state=BackendState.HELD.value, reason=reason, hold_code=code)
    if action == "queued":
        return replace(fold, state=BackendState.QUEUED.value, reason=reason, hold_code=code)
    return replace(
        fold,
        state=BackendState.FAILED.value,
        reason=reason or f"held (code {code})",
        hold_code=code,
        system_failure=True,
        needs_removal=True,
        ended=ts,
    )


def _terminated(fold: Fold, event: Mapping[str, Any], ts: int) -> Fold:
    if event.get("TerminatedNormally"):
        code = int(event.get("ReturnValue", 0))
        if code == 0:
            return replace(fold, state=BackendState.COMPLETED.value, exit_code=0, ended=ts)
        return replace(
            fold,
            state=BackendState.FAILED.value,
            exit_code=code,
            reason=f"the job exited with code {code}",
            ended=ts,
        )
    signal = event.get("TerminatedBySignal")
    return replace(
        fold,
        state=BackendState.FAILED.value,
        exit_code=None,
        reason=f"the job was killed by signal {signal}",
        ended=ts,
    )


def apply_event(fold: Fold, type_number: int, event: Mapping[str, Any], ts: int) -> Fold:
    """The fold after one more event (a pure function: replaying is idempotent)."""
    fold = replace(fold, seen=True)
    if type_number == ABORTED:
        return _removed(fold, event.get("Reason"), ts)
    if fold.terminal:
        return fold
    if type_number == SUBMIT:
        return replace(fold, state=BackendState.QUEUED.value)
    if type_number == EXECUTE:
        return replace(
            fold,
            state=BackendState.EXECUTING.value,
            reason=None,
            hold_code=None,
            started=fold.started or ts,
        )
    if type_number == EXECUTABLE_ERROR:
        kind = event.get("ExecuteErrorType")
        return _held(fold, 6, f"executable error (type {kind})", ts)
    if type_number in (EVICTED, SHADOW_EXCEPTION):
        return replace(fold, state=BackendState.QUEUED.value, reason=event.get("Message"))
    if type_number == TERMINATED:
        return _terminated(fold, event, ts)
    if type_number == SUSPENDED:
        return replace(fold, state=BackendState.SUSPENDED.value)
    if type_number == UNSUSPENDED:
        return replace(fold, state=BackendState.EXECUTING.value)
    if type_number == HELD:
        code = event.get("HoldReasonCode")
        return _held(fold, int(code) if code is not None else None, event.get("HoldReason"), ts)
    if type_number == RELEASED and fold.state == BackendState.HELD.value:
        return replace(fold, state=BackendState.QUEUED.value, reason=None, hold_code=None)
    if type_number == FILE_TRANSFER and event.get("Type") == OUTPUT_TRANSFER_STARTED:
        return replace(fold, state=BackendState.EXECUTING.value)
    return fold  # checkpointed, image size, input transfer...: no change of state


def fold_status(fold: Fold, cursor: str | None) -> BackendStatus:
    """The status a fold reports."""
    return BackendStatus(
        state=BackendState(fold.state),
        exit_code=fold.exit_code,
        reason=fold.reason,
        started_at=utc(fold.started),
        ended_at=utc(fold.ended),
        system_failure=fold.system_failure,
        cancelled_by_service=fold.cancelled_by_service,
        cursor=cursor,
    )


def ad_status(ad: Mapping[str, Any], cursor: str | None = None) -> BackendStatus:
    """The status a queue or history ad reports (the reconciliation's view)."""
    status = int(ad.get("JobStatus", 0))
    started = utc(ad.get("JobStartDate") or ad.get("JobCurrentStartDate"))
    ended = utc(ad.get("CompletionDate") or ad.get("EnteredCurrentStatus"))
    if status == 1:
        return BackendStatus(BackendState.QUEUED, cursor=cursor)
    if status in (2, 6):
        return BackendStatus(BackendState.EXECUTING, started_at=started, cursor=cursor)
    if status == 7:
        return BackendStatus(BackendState.SUSPENDED, started_at=started, cursor=cursor)
    if status == 5:
        code = ad.get("HoldReasonCode")
        reason = ad.get("HoldReason")
        action = hold_action(int(code) if code is not None else None)
        if action == "failed":
            return BackendStatus(
                BackendState.FAILED,
                reason=reason or f"held (code {code})",
                started_at=started,
                ended_at=utc(ad.get("EnteredCurrentStatus")),
                system_failure=True,
                cursor=cursor,
            )
        state = BackendState.HELD if action == "held" else BackendState.QUEUED
        return BackendStatus(state, reason=reason, started_at=started, cursor=cursor)
    if status == 4:
        if ad.get("ExitBySignal"):
            return BackendStatus(
                BackendState.FAILED,
                reason=f"the job was killed by signal {ad.get('ExitSignal')}",
                started_at=started,
                ended_at=ended,
                cursor=cursor,
            )
        code = int(ad.get("ExitCode", 0))
        if code == 0:
            return BackendStatus(
                BackendState.COMPLETED,
                exit_code=0,
                started_at=started,
                ended_at=ended,
                cursor=cursor,
            )
        return BackendStatus(
            BackendState.FAILED,
            exit_code=code,
            reason=f"the job exited with code {code}",
            started_at=started,
            ended_at=ended,
            cursor=cursor,
        )
    if status == 3:
        fold = _removed(Fold(), ad.get("RemoveReason"), 0)
        return replace(
            fold_status(fold, cursor),
            started_at=started,
            ended_at=utc(ad.get("EnteredCurrentStatus")),
        )
    return BackendStatus(BackendState.UNKNOWN, reason=f"JobStatus {status}", cursor=cursor)
