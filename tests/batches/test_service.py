"""The batch service in process, on both databases: the status table, quotas, hardware in specs.

Jobs are put into each state the dispatcher and backends can leave them in by writing the
rows directly (what those components would record), then read back through the service.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from uws_server.dispatch.spec import build_spec
from uws_server.errors import QuotaExceeded
from uws_server.identity import Identity
from uws_server.jobtypes import service as jobtypes
from uws_server.models import Batch, Job, JobEvent
from uws_server.services.batch_status import STATUSES

ALICE = Identity(name="alice")

#: (phase, submit_token, backend_id, error_message) -> the status the brief's table gives.
STATES: list[tuple[tuple[str, str | None, str | None, str | None], str]] = [
    (("PENDING", None, None, None), "SUBMITTED"),
    (("QUEUED", None, None, None), "PENDING"),
    (("QUEUED", "tok", None, None), "STARTING"),
    (("QUEUED", "tok", "b.1", None), "RUNNABLE"),
    (("HELD", "tok", "b.2", "held by the backend"), "RUNNABLE"),
    (("SUSPENDED", "tok", "b.3", None), "RUNNABLE"),
    (("UNKNOWN", "tok", "b.4", None), "RUNNABLE"),
    (("EXECUTING", "tok", "b.5", None), "RUNNING"),
    (("COMPLETED", "tok", "b.6", None), "SUCCEEDED"),
    (("ERROR", "tok", "b.7", "exit code 3"), "FAILED"),
    (("ABORTED", None, None, "aborted by alice"), "FAILED"),
    (("ARCHIVED", "tok", "b.8", None), "SUCCEEDED"),
    (("ARCHIVED", "tok", "b.9", "exit code 1"), "FAILED"),
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"filesystems": "scratch=/mnt/scratch", "quota_stored_jobs": 20}


def _set_states(components: Any, batch_id: str) -> list[str]:
    with components.db.write() as session:
        ids = list(session.scalars(select(Job.id).where(Job.batch_id == batch_id)
                                   .order_by(Job.batch_index)))
        for job_id, ((phase, token, backend, error), _) in zip(ids, STATES, strict=False):
            session.execute(update(Job).where(Job.id == job_id).values(
                phase=phase, submit_token=token, backend_id=backend, error_message=error))
        session.execute(update(Job).where(Job.id == ids[-1]).values(deleted=True))
    return ids


def test_every_phase_and_hand_over_state_maps_as_the_table_says(components):
    batches = components.batches
    summary = batches.create(ALICE, {"tool_id": "echo", "start": False, "sweep": {
        "message": [f"m{i}" for i in range(len(STATES) + 1)]}})
    ids = _set_states(components, summary.batch.id)
    expected = {status: 0 for status in STATUSES}
    for _, status in STATES:
        expected[status] += 1
    got = batches.get(ALICE, summary.batch.id)
    assert got.counts == expected  # the deleted job is not counted
    assert got.n_submitted == len(STATES)
    _, jobs = batches.jobs_of(ALICE, summary.batch.id, limit=100, offset=0)
    assert [job.status for job in jobs] == [status for _, status in STATES]
    assert jobs[9].reason == "exit code 3" and jobs[3].reason is None
    assert jobs[4].reason is None  # a held job has not failed
    for status in STATUSES:
        _, found = batches.jobs_of(ALICE, summary.batch.id, limit=100, offset=0,
                                   statuses=[status])
        assert [job.id for job in found] == [ids[i] for i, (_, s) in enumerate(STATES)
                                             if s == status], status


def test_a_batch_over_the_stored_jobs_quota_is_refused_whole(components):
    batches = components.batches
    with pytest.raises(QuotaExceeded, match="limit is 20"):
        batches.create(ALICE, {"tool_id": "echo", "sweep": {
            "message": [f"m{i}" for i in range(21)]}})
    with components.db.read() as session:
        assert session.scalars(select(Job.id)).all() == []
        assert session.scalars(select(Batch.id)).all() == []
    batches.create(ALICE, {"tool_id": "echo", "sweep": {"message": ["a"] * 20}})


def test_started_jobs_are_queued_with_their_history_and_woken_once(components):
    woken: list[set[str]] = []
    components.bus.subscribe(woken.append)
    summary = components.batches.create(ALICE, {"tool_id": "echo", "args": [
        {"message": "a"}, {"message": "b"}]})
    assert summary.counts["PENDING"] == 2
    with components.db.read() as session:
        phases = session.scalars(select(Job.phase).where(Job.batch_id == summary.batch.id))
        assert set(phases) == {"QUEUED"}
        events = session.execute(select(JobEvent.from_phase, JobEvent.to_phase)).all()
        assert [tuple(e) for e in events] == [("PENDING", "QUEUED")] * 2
    assert len(woken) == 1


def test_the_hardware_request_and_filesystems_reach_the_job_spec(components):
    summary = components.batches.create(ALICE, {
        "tool_id": "echo", "args": [{"message": "hw"}],
        "hardware": {"cpu": 3, "memory": 700, "filesystems": ["scratch"]}})
    plain = components.batches.create(ALICE, {"tool_id": "echo", "args": [{"message": "p"}]})
    specs = []
    with components.db.read() as session:
        for batch in (summary, plain):
            job = session.scalars(select(Job).where(Job.batch_id == batch.batch.id)).one()
            specs.append(build_spec(components.storage, job, job.revision.job_type,
                                    jobtypes.interface_of(job.revision), service="t",
                                    filesystems=components.settings.filesystems))
    asked, default = specs
    assert (asked.resources.cpus, asked.resources.mem_mib) == (3.0, 700.0)
    assert asked.env["UWS_FS_SCRATCH"] == "/mnt/scratch"
    assert (default.resources.cpus, default.resources.mem_mib) == (0.1, 64.0)
    assert not any(name.startswith("UWS_FS_") for name in default.env)
    assert (summary.batch.cpu, summary.batch.memory_mib) == (3, 700)
    assert (plain.batch.cpu, plain.batch.memory_mib) == (0.1, 64)
