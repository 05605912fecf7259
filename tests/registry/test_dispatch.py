"""Registry settings change what the dispatcher does: set over HTTP (the Flask test client on
an in-process app), then dispatcher ticks with a fake executor. Plus the admin rule."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.fakes import FakeBackend, FakeExecutor
from tests.registry.conftest import manifest, unique
from uws_server.app import create_app
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.errors import PermissionDenied
from uws_server.executors.base import BackendState, BackendStatus, JobHandle
from uws_server.identity import ANONYMOUS, Identity
from uws_server.jobtypes import service as jobtypes
from uws_server.models import DispatcherLease
from uws_server.timeutil import utcnow


class SystemFailingExecutor(FakeExecutor):
    """Reports every failed backend job as the system's fault (a lost node)."""

    def poll(self, handles: Mapping[str, JobHandle]) -> dict[str, BackendStatus]:
        report = super().poll(handles)
        return {job_id: (BackendStatus(BackendState.FAILED, exit_code=None, reason="node lost",
                                       system_failure=True)
                         if status.state is BackendState.FAILED else status)
                for job_id, status in report.items()}


def _dispatcher(parts, executor) -> Dispatcher:
    with parts.db.write() as session:
        session.execute(update(DispatcherLease).values(expires_at=utcnow() - timedelta(1)))
    return Dispatcher(parts, executor)


def _register(client, name: str, **fields: object) -> None:
    response = client.post("/v6/job-types/", json={"manifest": manifest(name),
                                                   "docker_image": "t:1", **fields})
    assert response.status_code == 201, response.json


def _patch(client, name: str, **fields: object) -> None:
    response = client.patch(f"/v6/job-types/{name}/1.0.0/", json=fields)
    assert response.status_code == 200, response.json


def _queue(parts, name: str) -> str:
    return parts.jobs.create(ANONYMOUS, name, [("message", "m"), ("PHASE", "RUN")], {}).id


def _phase(parts, name: str, job_id: str) -> str:
    return parts.jobs.get(ANONYMOUS, name, job_id).phase


def test_max_scheduled_caps_how_many_jobs_of_the_type_run(components, client):
    name = unique("cap")
    _register(client, name, max_scheduled=1)
    backend = FakeBackend()
    dispatcher = _dispatcher(components, FakeExecutor(backend))
    jobs = [_queue(components, name) for _ in range(4)]
    dispatcher.tick()
    dispatcher.tick()
    assert len(backend.jobs) == 1
    _patch(client, name, max_scheduled=3)
    dispatcher.tick()
    assert len(backend.jobs) == 3
    _patch(client, name, max_scheduled=None)
    dispatcher.tick()
    assert {j.job_id for j in backend.jobs} == set(jobs)


def test_paused_type_is_not_dispatched_until_resumed(components, client):
    name = unique("pause")
    _register(client, name, is_paused=True)
    backend = FakeBackend()
    dispatcher = _dispatcher(components, FakeExecutor(backend))
    job_id = _queue(components, name)
    for _ in range(3):
        dispatcher.tick()
    assert backend.jobs == [] and _phase(components, name, job_id) == "QUEUED"
    _patch(client, name, is_paused=False)
    dispatcher.tick()
    assert len(backend.submissions_for(job_id)) == 1


def test_priority_from_the_configuration_orders_the_queue(components, client):
    name = unique("prio")
    _register(client, name, configuration={"priority": 1})
    backend = FakeBackend()
    dispatcher = _dispatcher(components, FakeExecutor(backend, slots=1))
    low = _queue(components, name)
    _patch(client, name, configuration={"priority": 50})
    high = _queue(components, name)
    dispatcher.tick()
    assert [j.job_id for j in backend.jobs] == [high]
    dispatcher.executor.finish(high)
    dispatcher.tick()
    dispatcher.tick()
    assert [j.job_id for j in backend.jobs] == [high, low]


@pytest.mark.parametrize("max_tries", [1, 3])
def test_max_tries_retries_system_failures(components, client, max_tries):
    name = unique("tries")
    _register(client, name)
    _patch(client, name, max_tries=max_tries)
    backend = FakeBackend()
    dispatcher = _dispatcher(components, SystemFailingExecutor(backend))
    job_id = _queue(components, name)
    for _ in range(max_tries + 2):
        dispatcher.tick()
        dispatcher.executor.finish(job_id, exit_code=1)
        dispatcher.tick()
    assert len(backend.submissions_for(job_id)) == max_tries
    job = components.jobs.get(ANONYMOUS, name, job_id)
    assert job.phase == "ERROR" and job.error_type == "transient"
    failures = client.get("/v6/job-types/system-failures/").json
    [mine] = [r for r in failures["results"] if r["job_type"]["name"] == name]
    assert mine["count"] == 1 and mine["error"]["category"] == "SYSTEM"
    assert mine["first_error"] and mine["last_error"]
    status = client.get("/v6/job-types/status/").json
    [row] = [r for r in status["results"] if r["job_type"]["name"] == name]
    assert row["job_counts"][0]["status"] == "FAILED"
    assert row["job_counts"][0]["category"] == "SYSTEM"


def test_the_jobs_own_non_zero_exit_is_never_retried(components, client):
    name = unique("exit")
    _register(client, name, max_tries=5)
    backend = FakeBackend()
    dispatcher = _dispatcher(components, FakeExecutor(backend))
    job_id = _queue(components, name)
    for _ in range(3):
        dispatcher.tick()
        dispatcher.executor.finish(job_id, exit_code=2)
        dispatcher.tick()
    assert len(backend.submissions_for(job_id)) == 1
    assert _phase(components, name, job_id) == "ERROR"
    assert client.get("/v6/job-types/system-failures/").json["count"] == 0


def test_jobs_record_the_revision_they_ran_with(components, client):
    name = unique("rev")
    _register(client, name)
    first = components.jobs.create(ANONYMOUS, name, [("message", "a")], {})
    _patch(client, name, docker_image="t:2")
    second = components.jobs.create(ANONYMOUS, name, [("message", "b")], {})
    assert first.revision_id != second.revision_id
    revisions = client.get(f"/v6/job-types/{name}/1.0.0/revisions/").json["results"]
    assert {r["id"]: r["docker_image"] for r in revisions} == {
        first.revision_id: "t:1", second.revision_id: "t:2"}


def test_registry_writes_need_the_admin_role(components, client, monkeypatch):
    name = unique("admin")
    body = {"manifest": manifest(name), "docker_image": "a:1"}
    user = Identity(name="bob", roles=frozenset({"user"}))
    with pytest.raises(PermissionDenied):
        components.registry.create(user, body)
    _register(client, name)
    with pytest.raises(PermissionDenied):
        components.registry.edit(user, name, "1.0.0", {"is_paused": True})
    with pytest.raises(PermissionDenied):
        components.registry.create(ANONYMOUS, body)
    monkeypatch.setattr("uws_server.api.jobtypes.current_identity", lambda: user)
    refused = client.patch(f"/v6/job-types/{name}/1.0.0/", json={"is_paused": True})
    assert refused.status_code == 403 and "admin" in refused.json["detail"]
    assert client.post("/v6/job-types/", json=body).status_code == 403
    assert client.get(f"/v6/job-types/{name}/1.0.0/").json["is_paused"] is False
    assert client.post("/v6/job-types/validation/", json=body).status_code == 200  # a read


def load_directory_for_tests(parts, folder) -> list[str]:
    with parts.db.write() as session:
        return jobtypes.load_directory(session, folder)


def test_manifests_in_a_directory_load_at_start_up_as_registrations(components, tmp_path):
    folder = tmp_path / "types"
    folder.mkdir()
    name = unique("dir")
    (folder / "a.json").write_text(json.dumps(manifest(name)))
    (folder / "broken.json").write_text("{")
    assert load_directory_for_tests(components, folder) == [f"{name} 1.0.0 r1"]
    assert load_directory_for_tests(components, folder) == []
    changed = manifest(name, title="Changed")
    (folder / "a.json").write_text(json.dumps(changed))
    assert load_directory_for_tests(components, folder) == [f"{name} 1.0.0 r2"]
    client = create_app(components=components).test_client()
    assert client.get(f"/v6/job-types/{name}/1.0.0/").json["title"] == "Changed"
