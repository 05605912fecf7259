"""Reading a job's notification history and outbox straight from the server's database."""

from __future__ import annotations

from sqlalchemy import select

from uws_server.db import Database
from uws_server.models import JobEvent, NotificationDelivery


def notification_notes(database_url: str, job_id: str) -> list[str]:
    """The notes of the job's ``notification`` history entries, oldest first."""
    db = Database(database_url)
    try:
        with db.read() as session:
            return list(session.scalars(
                select(JobEvent.note).where(JobEvent.job_id == job_id,
                                            JobEvent.kind == "notification")
                .order_by(JobEvent.id)))
    finally:
        db.dispose()


def delivery_states(database_url: str, job_id: str) -> list[tuple[str, str, int]]:
    """``(event, state, attempts)`` of each of the job's deliveries, oldest first."""
    db = Database(database_url)
    try:
        with db.read() as session:
            return [(row.event, row.state, row.attempts) for row in session.execute(
                select(NotificationDelivery.event, NotificationDelivery.state,
                       NotificationDelivery.attempts)
                .where(NotificationDelivery.job_id == job_id)
                .order_by(NotificationDelivery.id))]
    finally:
        db.dispose()
