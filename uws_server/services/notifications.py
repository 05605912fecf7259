"""Webhook subscriptions of jobs, and the outbox rows their phase changes write.

Any front door calls :func:`parse_subscriptions` on what a client sent (before
anything is written) and :func:`subscribe` inside the transaction that creates
the job. From then on, :func:`~uws_server.services.transitions.transition`
calls :func:`enqueue` in the transaction of every phase change of a job whose
``notify`` flag is set: the deliveries are committed with the change or not at
all (an outbox), and the dispatcher side sends them
(:mod:`uws_server.dispatch.webhooks`). Jobs without subscriptions cost nothing:
the flag is on the job row already loaded.

Events are UWS phases (``COMPLETED``), Agave-style statuses (``FINISHED``) or
``*``; :data:`AGAVE_STATUS` is the table between the two.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidParameter
from ..models import Job, JobSubscription, NotificationDelivery
from ..phases import ExecutionPhase
from ..timeutil import utcnow
from ..urlguard import UrlRefused, check_url, url_policy
from .params import single

if TYPE_CHECKING:
    from ..config import Settings

P = ExecutionPhase

#: The Agave-style status of each UWS phase (payload ``status``; Agave events match on it).
AGAVE_STATUS: Mapping[ExecutionPhase, str] = {
    P.PENDING: "PENDING", P.QUEUED: "QUEUED", P.EXECUTING: "RUNNING",
    P.COMPLETED: "FINISHED", P.ERROR: "FAILED", P.ABORTED: "STOPPED", P.HELD: "PAUSED",
    P.SUSPENDED: "PAUSED", P.UNKNOWN: "UNKNOWN", P.ARCHIVED: "ARCHIVED",
}
ALL_EVENTS = "*"
#: Every event name a subscription may give (upper case).
EVENTS = frozenset({p.value for p in P} | set(AGAVE_STATUS.values()) | {ALL_EVENTS})
MAX_SUBSCRIPTIONS = 10  # per job
MAX_URL_CHARS = 2048


@dataclass(frozen=True)
class Subscription:
    """One checked subscription, waiting to be stored by :func:`subscribe`."""

    url: str
    event: str = ALL_EVENTS
    persistent: bool = False

    def matches(self, phase: ExecutionPhase) -> bool:
        """Whether entering ``phase`` fires this subscription."""
        return matches(self.event, phase)


def matches(event: str, phase: ExecutionPhase) -> bool:
    """Whether a subscription to ``event`` fires when a job enters ``phase``."""
    return event == ALL_EVENTS or event == phase.value or event == AGAVE_STATUS[phase]


def check_subscription(url: object, event: object, persistent: object, *, settings: Settings,
                       field: Callable[[str], str]) -> Subscription:
    """One subscription from its three values; 400 naming the field (``field(name)``).

    ``url`` must be an http(s) URL the URL guard (``UWS_URL_ALLOW``/``UWS_URL_DENY``)
    does not refuse as far as it can judge without DNS (the sender judges the resolved
    address again at every attempt); ``event`` one of :data:`EVENTS` (any case);
    ``persistent`` a boolean.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameter(f"{field('url')}: expected an http(s) URL")
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise InvalidParameter(f"{field('url')}: longer than {MAX_URL_CHARS} characters")
    try:
        parts = check_url(url, url_policy(settings))
    except UrlRefused as exc:
        raise InvalidParameter(f"{field('url')}: destination refused: {exc}") from None
    if parts.fragment:
        raise InvalidParameter(f"{field('url')}: a webhook URL has no #fragment")
    if not isinstance(event, str) or event.strip().upper() not in EVENTS:
        raise InvalidParameter(f"{field('event')}: expected a UWS phase, an Agave status or "
                               f"'*', got {str(event)[:40]!r}")
    if not isinstance(persistent, bool):
        raise InvalidParameter(f"{field('persistent')}: expected true or false, got "
                               f"{str(persistent)[:40]!r}")
    return Subscription(url, event.strip().upper(), persistent)


def _field_of(where: str) -> Callable[[str], str]:
    """Names of one list item's fields, ``notifications[0].url``."""
    return lambda key: f"{where}.{key}"


def parse_subscriptions(raw: object, *, settings: Settings,
                        name: str = "notifications") -> list[Subscription]:
    """Check a JSON ``notifications`` list (``[{"url", "event", "persistent"}]``).

    Parameters
    ----------
    raw
        What the client sent (``None``: no subscription).
    settings
        The URL guard's settings.
    name
        The field's name in messages (``notifications[0].url: ...``).

    Returns
    -------
    list of Subscription
        In the order sent; ``event`` defaults to ``*``, ``persistent`` to false (Agave's).

    Raises
    ------
    InvalidParameter
        Naming the field that is wrong; nothing has been written.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidParameter(f"{name}: expected a list of {{url, event, persistent}}")
    if len(raw) > MAX_SUBSCRIPTIONS:
        raise InvalidParameter(f"{name}: at most {MAX_SUBSCRIPTIONS} per job, got {len(raw)}")
    result = []
    for index, item in enumerate(raw):
        where = f"{name}[{index}]"
        if not isinstance(item, dict):
            raise InvalidParameter(f"{where}: expected an object with url, event, persistent")
        unknown = sorted(set(item) - {"url", "event", "persistent"})
        if unknown:
            raise InvalidParameter(f"{where}.{unknown[0]}: unknown field (a notification "
                                   "takes url, event, persistent)")
        result.append(check_subscription(
            item.get("url"), item.get("event", ALL_EVENTS), item.get("persistent", False),
            settings=settings, field=_field_of(where)))
    return result


_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


def from_uws_control(control: Mapping[str, list[str]], *, settings: Settings
                     ) -> list[Subscription]:
    """The subscription a UWS job creation asks for, if any (nothing is written).

    ``NOTIFICATION.URL`` (the receiver), optional ``NOTIFICATION.EVENT`` (default ``*``:
    every phase change) and ``NOTIFICATION.PERSISTENT`` (default true; false: only the
    first matching change), each at most once, names in any case.

    Raises
    ------
    InvalidParameter
        Naming the parameter that is wrong (a refused destination among them).
    """
    url = single(control, "NOTIFICATION.URL")
    event = single(control, "NOTIFICATION.EVENT")
    persistent_text = single(control, "NOTIFICATION.PERSISTENT")
    if url is None:
        given = "NOTIFICATION.EVENT" if event is not None else (
            "NOTIFICATION.PERSISTENT" if persistent_text is not None else None)
        if given is not None:
            raise InvalidParameter(f"{given}: given without NOTIFICATION.URL")
        return []
    persistent: object = True
    if persistent_text is not None:
        text = persistent_text.strip().lower()
        persistent = True if text in _TRUE else False if text in _FALSE else persistent_text
    return [check_subscription(url, ALL_EVENTS if event is None else event, persistent,
                               settings=settings,
                               field=lambda key: f"NOTIFICATION.{key.upper()}")]


def subscribe(session: Session, job: Job, subscriptions: list[Subscription], *,
              job_url: str | None = None) -> None:
    """Store ``subscriptions`` of ``job`` in the caller's (writing) transaction.

    Call it after the job row is added (flushed) and before any phase change that should
    fire them. ``job_url`` is the job's URL as the client sees it (the payload's
    ``job.url``).
    """
    if not subscriptions:
        return
    now = utcnow()
    for item in subscriptions:
        session.add(JobSubscription(job_id=job.id, url=item.url, event=item.event,
                                    persistent=item.persistent, active=True, key_id="default",
                                    job_url=job_url, created=now))
    if not job.notify:
        job.notify = True
    session.flush()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def payload(job: Job, previous: ExecutionPhase, phase: ExecutionPhase, at: datetime,
            job_url: str | None) -> str:
    """The JSON body of a delivery: what happened, and the job as it is now."""
    return json.dumps({
        "event": phase.value,
        "status": AGAVE_STATUS[phase],
        "previousPhase": previous.value,
        "at": _iso(at),
        "job": {
            "id": job.id, "jobType": job.job_type_name, "runId": job.run_id,
            "owner": job.owner_id, "phase": phase.value, "status": AGAVE_STATUS[phase],
            "creationTime": _iso(job.creation_time), "startTime": _iso(job.start_time),
            "endTime": _iso(job.end_time), "url": job_url,
        },
    }, separators=(",", ":"), sort_keys=True)


def enqueue(session: Session, job: Job, previous: ExecutionPhase,
            phase: ExecutionPhase) -> int:
    """Write the deliveries that ``job`` entering ``phase`` fires; return how many.

    Runs in the transaction of the phase change (the outbox). A subscription that is not
    persistent is spent by its first delivery.
    """
    subscriptions = session.scalars(
        select(JobSubscription).where(JobSubscription.job_id == job.id,
                                      JobSubscription.active.is_(True))
        .order_by(JobSubscription.id)).all()
    now = utcnow()
    count = 0
    for item in subscriptions:
        if not matches(item.event, phase):
            continue
        session.add(NotificationDelivery(
            job_id=job.id, subscription_id=item.id, url=item.url, key_id=item.key_id,
            event=phase.value, payload=payload(job, previous, phase, now, item.job_url),
            created=now, attempts=0, next_attempt_at=now, state="pending"))
        if not item.persistent:
            item.active = False
        count += 1
    return count


def deliveries_of(session: Session, job_id: str) -> list[NotificationDelivery]:
    """The outbox rows of one job, oldest first (operators, tests)."""
    return list(session.scalars(select(NotificationDelivery)
                                .where(NotificationDelivery.job_id == job_id)
                                .order_by(NotificationDelivery.id)))


def expiry(created: datetime, max_age: float) -> datetime:
    """When retrying a delivery made at ``created`` stops (UWS_WEBHOOK_MAX_AGE later)."""
    return created + timedelta(seconds=max_age)
