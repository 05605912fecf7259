"""Agave's job search: ``/jobs/v2/{attribute}/{value}`` and ``?attribute.op=value``.

Each term is an attribute of the job document, an operator (``eq`` when none
is given) and a value; terms are ANDed. ``like`` takes ``*`` as a wildcard and
ignores case on both databases; times take ISO 8601 (``created.after=...``).
Statuses are Agave's, turned into phases by the one status table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, not_, or_

from ...errors import InvalidParameter
from ...models import Job, JobType
from ...timeutil import parse_utc
from .statuses import phases_of

#: Document attribute -> the column it is read from.
TEXT_ATTRIBUTES: dict[str, Any] = {
    "id": Job.id,
    "name": Job.run_id,
    "owner": Job.owner_id,
    "appId": Job.job_type_name + "-" + JobType.version,
    "executionSystem": Job.executor,
}
TIME_ATTRIBUTES: dict[str, Any] = {
    "created": Job.creation_time,
    "startTime": Job.start_time,
    "endTime": Job.end_time,
}
#: Every attribute a search may name (the first segment of ``/jobs/v2/{attribute}/{value}``).
ATTRIBUTES = frozenset({*TEXT_ATTRIBUTES, *TIME_ATTRIBUTES, "status"})
TEXT_OPERATORS = frozenset({"eq", "neq", "in", "nin", "like", "nlike"})
TIME_OPERATORS = frozenset({"eq", "before", "after", "lt", "gt"})
#: Query arguments of a list that are not search terms.
PAGING = frozenset({"limit", "offset", "pretty"})


@dataclass(frozen=True)
class Term:
    """One search term: ``attribute.operator=value``."""

    attribute: str
    operator: str
    value: str


def is_attribute(segment: str) -> bool:
    """Whether a path segment names a searchable attribute (never a job id: ids are hex)."""
    return segment in ATTRIBUTES


def terms_from_query(args: Sequence[tuple[str, str]]) -> list[Term]:
    """The search terms of a query string (``status.eq=RUNNING``); 400 for an unknown
    attribute or operator."""
    terms = []
    for key, value in args:
        if key in PAGING:
            continue
        attribute, _, operator = key.partition(".")
        terms.append(check(Term(attribute, operator.lower() or "eq", value)))
    return terms


def check(term: Term) -> Term:
    """The term if its attribute and operator exist; 400 naming what does not."""
    if term.attribute not in ATTRIBUTES:
        raise InvalidParameter(f"{term.attribute}: not a searchable job attribute; expected "
                               "one of " + ", ".join(sorted(ATTRIBUTES)))
    allowed = TIME_OPERATORS if term.attribute in TIME_ATTRIBUTES else TEXT_OPERATORS
    if term.operator not in allowed:
        raise InvalidParameter(f"{term.attribute}.{term.operator}: unknown operator; expected "
                               "one of " + ", ".join(sorted(allowed)))
    if "\x00" in term.value:
        raise InvalidParameter(f"{term.attribute}: contains a NUL character")
    return term


def _like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def condition(term: Term) -> ColumnElement[bool]:
    """The SQL condition of one checked term (over ``jobs`` joined with ``job_types``)."""
    op, value = term.operator, term.value
    if term.attribute in TIME_ATTRIBUTES:
        column = TIME_ATTRIBUTES[term.attribute]
        try:
            moment = parse_utc(value)
        except ValueError as exc:
            raise InvalidParameter(f"{term.attribute}: {exc}") from None
        if op in ("before", "lt"):
            return column < moment
        if op in ("after", "gt"):
            return column > moment
        return column == moment
    values = [v.strip() for v in value.split(",")] if op in ("in", "nin") else [value]
    if term.attribute == "status":
        phases = [phase for v in values for phase in phases_of(v)]
        if op in ("like", "nlike"):
            raise InvalidParameter("status.like: statuses are matched exactly (eq, neq, in)")
        among: ColumnElement[bool] = Job.phase.in_(phases)
        return not_(among) if op in ("neq", "nin") else among
    column = TEXT_ATTRIBUTES[term.attribute]
    if op in ("like", "nlike"):
        like: ColumnElement[bool] = column.ilike(_like(value), escape="\\")
        return not_(like) if op == "nlike" else like
    equal: ColumnElement[bool] = or_(*(column == v for v in values))
    return not_(equal) if op in ("neq", "nin") else equal
