"""The webhook sender: delivers the outbox rows that phase changes wrote.

It runs beside the dispatcher loop, in a thread of the dispatcher's process
(``uws-server worker``, or the embedded ``serve``), never in a request
thread. Each round it takes the due ``pending`` deliveries, oldest first, and
for each:

1. claims it in its own transaction: one more attempt, and ``next_attempt_at``
   pushed past the attempt's timeout (:data:`CLAIM_MARGIN`), with a
   compare-and-set on the attempt count, so two senders never both send it and
   a sender killed mid-attempt leaves it to be tried again once the claim lapses
   (at least once; receivers deduplicate on ``X-UWS-Delivery``);
2. POSTs the stored body through the URL guard (the destination's resolved
   address judged again now: DNS rebinding), no redirect followed, one deadline
   of ``UWS_WEBHOOK_TIMEOUT`` for the whole exchange, at most
   :data:`MAX_RESPONSE_BYTES` of the answer read;
3. records the outcome and one ``notification`` entry in the job's history:
   a 2xx answer is ``delivered``; anything else is retried after
   :func:`retry_delay` until ``UWS_WEBHOOK_MAX_AGE`` has passed since the
   change (then ``expired``); a destination the guard now refuses is
   ``refused`` at once.

:func:`delivery_counts` is the one place that counts outcomes (for metrics).
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import CursorResult, func, select, update

from .. import metrics
from ..models import Job, NotificationDelivery
from ..services import history
from ..timeutil import as_utc, utcnow
from ..urlguard import UrlRefused, open_url, url_policy
from . import signing

if TYPE_CHECKING:
    from ..config import Settings
    from ..db import Database

log = logging.getLogger(__name__)
ACTOR = "dispatcher"
MAX_RESPONSE_BYTES = 64 * 1024
CLAIM_MARGIN = 10.0  # seconds a claim outlives its attempt's timeout
BATCH = 20  # deliveries per round
IDLE_LOOK_SECONDS = 30.0  # the longest an idle sender goes without looking at the outbox
MIN_PAUSE = 0.05  # seconds between rounds at least, when a round left work it could not claim
D = NotificationDelivery

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def delivery_counts() -> dict[str, int]:
    """Attempts of this process by outcome: ``delivered``, ``retry``, ``expired``, ``refused``.

    The metrics hook: a Prometheus exporter reads it (counters, per process).
    Deployment-wide totals by state are in the outbox (:func:`outbox_states`).
    """
    with _counts_lock:
        return dict(_counts)


def _count(outcome: str) -> None:
    with _counts_lock:
        _counts[outcome] += 1
    metrics.WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()


def outbox_states(db: Database) -> dict[str, int]:
    """Deliveries in the database by state (``pending``, ``delivered``, ...)."""
    with db.read() as session:
        return {state: count for state, count in
                session.execute(select(D.state, func.count()).group_by(D.state))}


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: base, 2 base, 4 base... ≤ cap."""
    return min(cap, base * 2.0 ** min(max(attempts - 1, 0), 60))


def next_state(attempts: int, created: datetime, now: datetime, settings: Settings
               ) -> tuple[str, datetime]:
    """After a failed attempt: ``("pending", when)`` to retry, or ``("expired", now)``.

    A retry that would start later than ``UWS_WEBHOOK_MAX_AGE`` after the change is not
    made.
    """
    when = now + timedelta(seconds=retry_delay(attempts, settings.webhook_retry_base,
                                               settings.webhook_retry_max))
    if when > created + timedelta(seconds=settings.webhook_max_age):
        return "expired", now
    return "pending", when


def shown_url(url: str) -> str:
    """The URL without its query (which may hold a receiver's token), for history and logs."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class Claimed:
    """One delivery this sender holds for one attempt."""

    id: int
    job_id: str
    url: str
    event: str
    payload: str
    created: datetime
    attempt: int


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: an HTTP status, or the error that stopped it."""

    status: int | None = None
    error: str | None = None
    refused: bool = False

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """Sends due deliveries, in a thread of its own, until stopped.

    Parameters
    ----------
    db
        The database holding the outbox.
    settings
        Timeouts, back-off, the URL guard's lists and the signing secret.
    """

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._secret: bytes | None = None

    def kick(self, _job_ids: Any = None) -> None:
        """Look for due deliveries now (a phase change may have written some)."""
        self._kick.set()

    def start(self) -> None:
        """Run :meth:`run_forever` in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end (after its current attempt) and wait a little for it."""
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(self.settings.webhook_timeout + 1 if timeout is None else timeout)

    def run_forever(self) -> None:
        """Send rounds until stopped; idle, sleep until the next retry is due or a kick.

        Deliveries are written in the transaction of a phase change, whose commit kicks
        the dispatcher and so this sender; the dispatcher's look at its flags, every
        tick, also kicks it when a delivery is due (one written on another host); what
        is left is retries, whose time is known. An idle sender therefore looks at the
        outbox itself once per :data:`IDLE_LOOK_SECONDS` at most, not once a tick.
        """
        while not self._stop.is_set():
            self._kick.clear()
            try:
                sent = self.send_due()
                pause = 0.0 if sent >= BATCH else self._seconds_to_next_due()
            except Exception:
                log.exception("webhook round failed")
                pause = self.settings.poll_interval
            if pause > 0:
                self._kick.wait(pause)

    def _seconds_to_next_due(self) -> float:
        """Seconds until the next pending delivery is due, within
        [:data:`MIN_PAUSE`, :data:`IDLE_LOOK_SECONDS`]."""
        with self.db.read() as session:
            due = session.scalar(select(func.min(D.next_attempt_at)).where(D.state == "pending"))
        if due is None:
            return IDLE_LOOK_SECONDS
        wait = (as_utc(due) - utcnow()).total_seconds()
        return min(IDLE_LOOK_SECONDS, max(MIN_PAUSE, wait))

    # -- one round ---------------------------------------------------------------------
    def send_due(self) -> int:
        """Attempt every due delivery (up to :data:`BATCH`); return how many were tried."""
        now = utcnow()
        with self.db.read() as session:
            due = session.execute(
                select(D.id, D.attempts).where(D.state == "pending", D.next_attempt_at <= now)
                .order_by(D.next_attempt_at, D.id).limit(BATCH)).all()
        tried = 0
        for delivery_id, attempts in due:
            if self._stop.is_set():
                break
            claimed = self._claim(delivery_id, attempts)
            if claimed is None:
                continue  # another sender has it
            tried += 1
            self._finish(claimed, self._post(claimed))
        return tried

    def _claim(self, delivery_id: int, attempts: int) -> Claimed | None:
        now = utcnow()
        hold = timedelta(seconds=self.settings.webhook_timeout + CLAIM_MARGIN)
        with self.db.write() as session:
            result = session.execute(
                update(D).where(D.id == delivery_id, D.state == "pending",
                                D.attempts == attempts)
                .values(attempts=attempts + 1, next_attempt_at=now + hold)
                .execution_options(synchronize_session=False))
            if cast(CursorResult[Any], result).rowcount != 1:
                return None
            row = session.execute(select(D.job_id, D.url, D.event, D.payload, D.created)
                                  .where(D.id == delivery_id)).one()
        return Claimed(delivery_id, row.job_id, row.url, row.event, row.payload, row.created,
                       attempts + 1)

    def _post(self, claimed: Claimed) -> Outcome:
        """One POST of the delivery; never raises for what the receiver or network does."""
        if self._secret is None:
            self._secret = signing.service_secret(self.settings)
        body = claimed.payload.encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "uws-server-webhooks",
                   signing.HEADER: signing.header_value(self._secret, body),
                   "X-UWS-Delivery": str(claimed.id), "X-UWS-Event": claimed.event}
        deadline = time.monotonic() + self.settings.webhook_timeout
        try:
            with open_url(claimed.url, url_policy(self.settings), deadline=deadline,
                          method="POST", body=body, headers=headers,
                          max_redirects=0) as response:
                read = 0
                while read <= MAX_RESPONSE_BYTES:
                    chunk = response.read1(MAX_RESPONSE_BYTES + 1 - read)
                    if not chunk:
                        break
                    read += len(chunk)
                return Outcome(status=response.status)
        except UrlRefused as exc:
            return Outcome(error=f"destination refused: {exc}", refused=True)
        except TimeoutError:
            return Outcome(error=f"no answer within {self.settings.webhook_timeout:g} s")
        except (OSError, http.client.HTTPException) as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}"[:300])

    def _finish(self, claimed: Claimed, outcome: Outcome) -> None:
        """Write the attempt's outcome and its history entry in one transaction."""
        now = utcnow()
        target = shown_url(claimed.url)
        what = f"{claimed.event} notification to {target} (attempt {claimed.attempt})"
        values: dict[str, Any] = {"last_status": outcome.status, "last_error": outcome.error}
        if outcome.ok:
            state, note = "delivered", f"{what}: HTTP {outcome.status}"
        elif outcome.refused:
            state, note = "refused", f"{what}: {outcome.error}; not retried"
        else:
            why = f"HTTP {outcome.status}" if outcome.status is not None else outcome.error
            state, when = next_state(claimed.attempt, claimed.created, now, self.settings)
            if state == "pending":
                values["next_attempt_at"] = when
                seconds = (when - now).total_seconds()
                note = f"{what}: {why}; next attempt in {seconds:.3g} s"
            else:
                note = f"{what}: {why}; given up (UWS_WEBHOOK_MAX_AGE)"
        values["state"] = state
        _count("retry" if state == "pending" else state)
        with self.db.write() as session:
            session.execute(update(D).where(D.id == claimed.id, D.state == "pending",
                                            D.attempts == claimed.attempt)
                            .values(**values).execution_options(synchronize_session=False))
            job = session.get(Job, claimed.job_id)
            if job is not None:
                history.record(session, job, "notification", actor=ACTOR, note=note)
        level = logging.INFO if state in ("delivered", "pending") else logging.WARNING
        log.log(level, "job %s: %s", claimed.job_id, note,
                extra={"job_id": claimed.job_id, "delivery": claimed.id, "state": state})
