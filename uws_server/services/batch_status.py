"""A batch job's status (reference 003's seven names) from its UWS phase and hand-over state.

The one mapping is one table, :data:`STATUS_RULES` (first match wins; docs/batches.md
shows the same table). Everything else is derived from it:

- :func:`status_expression`, an SQL ``CASE``: a job's ``status`` and the jobs list's
  ``status`` filter;
- :func:`status_of`, the same rules in Python: the batch summary, which counts jobs
  per phase and hand-over state in one grouped query over the covering index
  ``ix_jobs_batch_status`` and classifies each group.

How far a QUEUED job got is read from the dispatcher's own records: it commits a
``submit_token`` when it claims the job (inputs staged, spec built, about to call
the backend) and the ``backend_id`` once the backend has accepted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, literal_column

from ..models import Job
from ..phases import ExecutionPhase

P = ExecutionPhase

#: The statuses of reference 003, in the order the summary lists them.
STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")

#: Hand-over states: neither token nor backend id; claimed (token, no backend id yet);
#: accepted by the backend (a backend id).
NOT_HANDED, CLAIMED, ACCEPTED = "not handed over", "claimed", "accepted"


@dataclass(frozen=True)
class Rule:
    """Jobs in ``phases`` (and, when given, this hand-over state and error state) have
    ``status``."""

    status: str
    phases: frozenset[ExecutionPhase]
    meaning: str
    handed: str | None = None
    errored: bool | None = None


STATUS_RULES: tuple[Rule, ...] = (
    Rule("SUBMITTED", frozenset({P.PENDING}), "created, not started (start: false)"),
    Rule("PENDING", frozenset({P.QUEUED}), "queued, not yet handed to the backend",
         handed=NOT_HANDED),
    Rule("STARTING", frozenset({P.QUEUED}),
         "claimed by the dispatcher: inputs staged, being submitted to the backend",
         handed=CLAIMED),
    Rule("RUNNABLE", frozenset({P.QUEUED, P.HELD, P.SUSPENDED, P.UNKNOWN}),
         "in the backend's queue; also held, suspended, or being reconciled"),
    Rule("RUNNING", frozenset({P.EXECUTING}), "executing"),
    Rule("SUCCEEDED", frozenset({P.COMPLETED}), "completed"),
    Rule("SUCCEEDED", frozenset({P.ARCHIVED}), "archived after it completed", errored=False),
    Rule("FAILED", frozenset({P.ERROR, P.ABORTED, P.ARCHIVED}),
         "error or aborted (or archived after one); reason: the error summary"),
)

#: Phases for which a rule looks at the error (the summary counts those apart).
ERROR_SENSITIVE = frozenset(p for rule in STATUS_RULES if rule.errored is not None
                            for p in rule.phases)


def status_of(phase: ExecutionPhase, handed: str, errored: bool) -> str:
    """The status of a job in ``phase``, at hand-over state ``handed``, with or without an
    error message."""
    for rule in STATUS_RULES:
        if phase in rule.phases and rule.handed in (None, handed) \
                and rule.errored in (None, errored):
            return rule.status
    return "FAILED"


def _condition(rule: Rule) -> ColumnElement[bool]:
    parts = [Job.phase.in_(sorted(p.value for p in rule.phases))]
    if rule.handed == NOT_HANDED:
        parts += [Job.submit_token.is_(None), Job.backend_id.is_(None)]
    elif rule.handed == CLAIMED:
        parts += [Job.submit_token.is_not(None), Job.backend_id.is_(None)]
    elif rule.handed == ACCEPTED:
        parts.append(Job.backend_id.is_not(None))
    if rule.errored is not None:
        parts.append(Job.error_message.is_not(None) if rule.errored
                     else Job.error_message.is_(None))
    return and_(*parts)


def status_expression() -> Any:
    """The SQL expression giving a job's status (a ``CASE`` over :data:`STATUS_RULES`)."""
    return case(*[(_condition(rule), literal_column(f"'{rule.status}'"))
                  for rule in STATUS_RULES], else_=literal_column("'FAILED'"))


def status_column() -> Any:
    """:func:`status_expression` labelled ``status``, for a select list."""
    return status_expression().label("status")
