"""Without a pre-ping on every checkout, a job read still survives a dropped connection."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from uws_server.identity import ANONYMOUS


def test_job_get_after_the_server_dropped_the_pooled_connection_reconnects(components):
    if components.db.is_sqlite:
        pytest.skip("SQLite has no server to drop a connection")
    job = components.jobs.create(ANONYMOUS, "echo", [("message", "hi")], {})
    with components.db.engine.connect() as connection:  # the connection the pool will reuse
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    admin = create_engine(components.settings.database_url)
    try:
        with admin.connect() as connection:
            assert connection.exec_driver_sql(
                f"SELECT pg_terminate_backend({int(pid)})").scalar() is True
    finally:
        admin.dispose()
    assert components.jobs.get(ANONYMOUS, "echo", job.id).id == job.id
    assert components.jobs.phase_of(ANONYMOUS, "echo", job.id).value == "PENDING"
