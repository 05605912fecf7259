"""The sender and the outbox in process, over both databases: back-off, expiry, the URL guard
at delivery time, one-shot subscriptions, and no cost for jobs without subscriptions."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.webhooks.receiver import Receiver, running_receiver
from uws_server.dispatch import webhooks
from uws_server.dispatch.webhooks import WebhookSender
from uws_server.identity import Identity
from uws_server.models import Job, JobEvent
from uws_server.services.notifications import deliveries_of, parse_subscriptions, subscribe
from uws_server.wiring import Components

ALICE = Identity(name="alice")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"url_allow": "127.0.0.1/32", "webhook_retry_base": 0.05, "webhook_retry_max": 0.2,
            "webhook_max_age": 60.0, "webhook_timeout": 2.0, "webhook_secret": "s"}


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with running_receiver() as state:
        yield state


def _create(components: Components, url: str | None, **notification: str) -> str:
    params = [("message", "x"), ("PHASE", "RUN")]
    if url is not None:
        params.append(("NOTIFICATION.URL", url))
    params += [(f"NOTIFICATION.{key.upper()}", value) for key, value in notification.items()]
    return components.jobs.create(ALICE, "echo", params, {}).id


def _states(components: Components, job_id: str) -> list[tuple[str, str]]:
    with components.db.read() as session:
        return [(d.event, d.state) for d in deliveries_of(session, job_id)]


def _notes(components: Components, job_id: str) -> list[str]:
    with components.db.read() as session:
        return list(session.scalars(select(JobEvent.note).where(
            JobEvent.job_id == job_id, JobEvent.kind == "notification").order_by(JobEvent.id)))


def _drain(sender: WebhookSender, components: Components, job_id: str,
           timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(state == "pending" for _, state in _states(components, job_id)):
        assert time.monotonic() < deadline, _states(components, job_id)
        sender.send_due()
        time.sleep(0.02)


def test_a_failing_receiver_is_retried_with_back_off_until_the_maximum_age_then_given_up(
        components: Components, hooks: Receiver):
    path = f"/down-{uuid.uuid4().hex[:6]}"
    hooks.answers[path] = [503] * 100
    job_id = _create(components, f"{hooks.url}{path}", event="QUEUED")
    before = webhooks.delivery_counts()
    sender = WebhookSender(components.db, replace(components.settings, webhook_max_age=1.0))
    started = time.monotonic()
    _drain(sender, components, job_id)
    assert time.monotonic() - started < 5
    assert _states(components, job_id) == [("QUEUED", "expired")]
    attempts = len(hooks.at(path))
    notes = _notes(components, job_id)
    assert attempts >= 2 and len(notes) == attempts
    assert all("HTTP 503" in note for note in notes)
    assert "given up" in notes[-1]
    waits = [float(re.search(r"next attempt in ([0-9.]+) s", n)[1]) for n in notes[:-1]]
    assert waits == [0.05, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2][:len(waits)]
    after = webhooks.delivery_counts()
    assert after.get("expired", 0) == before.get("expired", 0) + 1
    assert after.get("retry", 0) == before.get("retry", 0) + attempts - 1


def test_a_destination_the_guard_refuses_at_delivery_time_is_not_called(
        components: Components, hooks: Receiver):
    path = f"/gone-{uuid.uuid4().hex[:6]}"
    job_id = _create(components, f"{hooks.url}{path}", event="QUEUED")
    stricter = replace(components.settings, url_allow="")  # e.g. the name now resolves inside
    sender = WebhookSender(components.db, stricter)
    _drain(sender, components, job_id)
    assert _states(components, job_id) == [("QUEUED", "refused")]
    assert hooks.at(path) == []
    [note] = _notes(components, job_id)
    assert "destination refused" in note and "loopback" in note


def test_a_subscription_that_is_not_persistent_fires_on_the_first_change_only(
        components: Components, hooks: Receiver):
    job_id = _create(components, f"{hooks.url}/once", persistent="false")
    components.jobs.abort(ALICE, "echo", job_id)
    assert _states(components, job_id) == [("QUEUED", "pending")]


def test_a_persistent_subscription_to_everything_fires_on_every_change(
        components: Components, hooks: Receiver):
    job_id = _create(components, f"{hooks.url}/every")
    components.jobs.abort(ALICE, "echo", job_id)
    assert _states(components, job_id) == [("QUEUED", "pending"), ("ABORTED", "pending")]


def test_a_job_without_subscriptions_changes_phase_without_looking_for_any(
        components: Components):
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(components.db.engine, "before_cursor_execute", seen)
    try:
        job_id = _create(components, None)
        components.jobs.abort(ALICE, "echo", job_id)
    finally:
        event.remove(components.db.engine, "before_cursor_execute", seen)
    assert statements and not [s for s in statements if "job_subscriptions" in s
                               or "notification_deliveries" in s]
    assert _states(components, job_id) == []


def test_a_redirect_is_not_followed_but_retried_as_a_failure(components: Components,
                                                             hooks: Receiver):
    path, elsewhere = f"/moved-{uuid.uuid4().hex[:6]}", f"/target-{uuid.uuid4().hex[:6]}"
    hooks.answers[path] = [307]
    hooks.locations[path] = f"{hooks.url}{elsewhere}"
    job_id = _create(components, f"{hooks.url}{path}", event="QUEUED")
    _drain(WebhookSender(components.db, components.settings), components, job_id)
    assert _states(components, job_id) == [("QUEUED", "delivered")]
    assert len(hooks.at(path)) == 2 and hooks.at(elsewhere) == []
    assert "HTTP 307" in _notes(components, job_id)[0]


def test_a_receiver_that_does_not_answer_in_time_is_retried(components: Components,
                                                            hooks: Receiver):
    path = f"/slow-{uuid.uuid4().hex[:6]}"
    hooks.gates[path] = threading.Event()  # the first request never gets an answer
    job_id = _create(components, f"{hooks.url}{path}", event="QUEUED")
    sender = WebhookSender(components.db, replace(components.settings, webhook_timeout=0.5))
    started = time.monotonic()
    _drain(sender, components, job_id)
    assert time.monotonic() - started < 5
    assert _states(components, job_id) == [("QUEUED", "delivered")]
    first, second = _notes(components, job_id)
    assert "no answer within 0.5 s" in first and "HTTP 200" in second


def test_another_front_door_subscribes_through_the_service_in_its_own_transaction(
        components: Components, hooks: Receiver):
    """What the Agave door's submit does: parse the JobRequest's ``notifications``, then
    ``subscribe`` in the transaction that holds the job."""
    job_id = components.jobs.create(ALICE, "echo", [("message", "x")], {}).id
    parsed = parse_subscriptions(
        [{"url": f"{hooks.url}/agave", "event": "QUEUED"},
         {"url": f"{hooks.url}/agave-all", "event": "*", "persistent": True}],
        settings=components.settings)
    with components.db.write() as session:
        job = session.get(Job, job_id)
        assert job is not None
        subscribe(session, job, parsed, job_url=f"https://example.org/jobs/v2/{job_id}")
    components.jobs.run(ALICE, "echo", job_id)
    components.jobs.abort(ALICE, "echo", job_id)
    assert _states(components, job_id) == [("QUEUED", "pending"), ("QUEUED", "pending"),
                                           ("ABORTED", "pending")]
    _drain(WebhookSender(components.db, components.settings), components, job_id)
    [queued] = hooks.at("/agave")
    assert queued.json["job"]["url"] == f"https://example.org/jobs/v2/{job_id}"
    assert [r.json["status"] for r in hooks.at("/agave-all")] == ["QUEUED", "STOPPED"]
    assert webhooks.outbox_states(components.db) == {"delivered": 3}
