"""Creation resolves its job type from memory; a registry change is seen at once.

The look-up of a name's versions is kept in memory (no query per creation). A change
committed through the registry forgets it in this process and publishes
``REGISTRY_CHANGED`` on the wake-up bus, which makes every other process of the service
forget it too (the bus's delivery between processes is tested in test_notify.py).
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from uws_server.errors import JobTypeInactive
from uws_server.identity import SYSTEM, UNAUTHENTICATED_OPERATOR
from uws_server.jobtypes import service as jobtypes


def _count_job_type_reads(components):
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_rest):
        if "FROM job_types" in statement:
            seen.append(statement)

    event.listen(components.db.engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(components.db.engine, "before_cursor_execute", record)


def test_creating_jobs_reads_the_job_types_table_once_not_per_job(components):
    jobs = components.jobs
    jobs.create(UNAUTHENTICATED_OPERATOR, "echo", [("message", "warm")], {})
    seen, stop = _count_job_type_reads(components)
    try:
        for n in range(20):
            jobs.create(UNAUTHENTICATED_OPERATOR, "echo", [("message", str(n))], {})
    finally:
        stop()
    assert seen == []


def test_a_committed_registry_change_is_seen_by_the_next_creation_and_wakes_the_others(
        components):
    published: list[set[str]] = []
    components.bus.subscribe(published.append)
    jobs = components.jobs
    jobs.create(UNAUTHENTICATED_OPERATOR, "echo", [("message", "warm")], {})
    with components.db.read() as session:
        version = jobtypes.resolve(session, "echo").job_type.version
    components.registry.edit(SYSTEM, "echo", version, {"is_active": False})
    assert any(jobtypes.REGISTRY_CHANGED in ids for ids in published)
    with pytest.raises(JobTypeInactive):
        jobs.create(UNAUTHENTICATED_OPERATOR, "echo", [("message", "after")], {})


def test_a_wake_up_from_another_process_forgets_the_looked_up_names(components):
    components.jobs.create(UNAUTHENTICATED_OPERATOR, "echo", [("message", "warm")], {})
    assert jobtypes._CANDIDATE_ROWS
    components.bus.publish({jobtypes.REGISTRY_CHANGED})  # as a datagram from elsewhere does
    assert not jobtypes._CANDIDATE_ROWS
