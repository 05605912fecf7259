"""Bulk hand-over to HTCondor (the in-memory fake schedd): one cluster, one removal, adoption."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from tests.bulk.kit import backend_ids, phases, queue_echo_jobs, set_max_scheduled
from tests.htcondor.fake_schedd import FakeSchedd
from uws_server.config import Settings
from uws_server.dispatch import bulk
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings
from uws_server.identity import ANONYMOUS
from uws_server.models import DispatcherLease
from uws_server.wiring import Components, bootstrap, build_components


@pytest.fixture
def condor(components: Components) -> tuple[Components, FakeSchedd]:
    """The job service on each database, and an empty fake schedd."""
    return components, FakeSchedd()


@pytest.fixture
def condor_sqlite(tmp_path: Path) -> Iterator[tuple[Components, FakeSchedd]]:
    """SQLite only: for the 1,000-job run (minutes on a loaded machine)."""
    settings = Settings(data_dir=tmp_path / "data",
                        database_url=f"sqlite:///{tmp_path / 'uws.sqlite3'}")
    bootstrap(settings)
    parts = build_components(settings)
    yield parts, FakeSchedd()
    parts.bus.close()


def _dispatcher(parts: Components, schedd: FakeSchedd) -> Dispatcher:
    """A dispatcher with a fresh executor over the same schedd, as after a restart."""
    with parts.db.write() as session:
        session.execute(delete(DispatcherLease))
    executor = HTCondorExecutor(HTCondorSettings(), service=parts.settings.service_name,
                                schedd=schedd)
    return Dispatcher(parts, executor)


def _clusters(schedd: FakeSchedd) -> set[str]:
    return {backend_id.split(".")[0] for backend_id in schedd.queue}


def test_a_thousand_queued_echo_jobs_become_one_cluster_and_all_complete(condor_sqlite):
    parts, schedd = condor_sqlite
    job_ids = queue_echo_jobs(parts, 1000)
    dispatcher = _dispatcher(parts, schedd)
    dispatcher.tick()
    assert schedd.calls.count("submit") == 1
    assert len(schedd.queue) == 1000 and len(_clusters(schedd)) == 1
    recorded = backend_ids(parts, job_ids)
    assert sorted(recorded.values(), key=lambda b: int(b.split(".")[1])) == [
        f"{next(iter(_clusters(schedd)))}.{proc}" for proc in range(1000)]
    assert {schedd.queue[b]["UwsJobId"] for b in recorded.values()} == set(job_ids)
    for job_id, backend_id in recorded.items():
        schedd.start(backend_id)
        outputs = parts.storage.job_dir(job_id) / "outputs"
        (outputs / "result.txt").write_text(job_id)  # what file transfer brings back
        schedd.terminate(backend_id, exit_code=0)
    dispatcher.tick()
    assert set(phases(parts, job_ids).values()) == {"COMPLETED"}
    assert all(parts.jobs.get(ANONYMOUS, "echo", j).start_time for j in job_ids[:5])


def test_aborting_many_jobs_is_one_schedd_removal(condor):
    parts, schedd = condor
    job_ids = queue_echo_jobs(parts, 50)
    dispatcher = _dispatcher(parts, schedd)
    dispatcher.tick()
    for job_id in job_ids:
        parts.jobs.abort(ANONYMOUS, "echo", job_id)
    before = schedd.calls.count("act")
    dispatcher.tick()
    assert schedd.calls.count("act") == before + 1
    assert schedd.queue == {}
    assert set(phases(parts, job_ids).values()) == {"ABORTED"}
    dispatcher.tick()  # the removals reported: nothing more asked of the schedd
    assert schedd.calls.count("act") == before + 1


def test_one_aborted_job_is_still_removed_alone(condor):
    parts, schedd = condor
    job_ids = queue_echo_jobs(parts, 3)
    dispatcher = _dispatcher(parts, schedd)
    dispatcher.tick()
    parts.jobs.abort(ANONYMOUS, "echo", job_ids[1])
    dispatcher.tick()
    assert len(schedd.queue) == 2
    assert phases(parts, job_ids)[job_ids[1]] == "ABORTED"


def test_max_scheduled_releases_a_big_queue_in_slices(condor):
    parts, schedd = condor
    set_max_scheduled(parts, "echo", 40)
    job_ids = queue_echo_jobs(parts, 100)
    dispatcher = _dispatcher(parts, schedd)
    dispatcher.tick()
    assert len(schedd.queue) == 40 and len(_clusters(schedd)) == 1
    dispatcher.tick()
    assert len(schedd.queue) == 40  # the cap holds: nothing more until some end
    for backend_id in list(schedd.queue)[:25]:
        schedd.start(backend_id)
        (parts.storage.job_dir(schedd.queue[backend_id]["UwsJobId"]) / "outputs"
         / "result.txt").write_text("done")
        schedd.terminate(backend_id, exit_code=0)
    dispatcher.tick()  # 25 complete; 25 more go, as a second cluster
    dispatcher.tick()
    assert schedd.calls.count("submit") == 2
    assert len(_clusters(schedd)) == 1 + 1  # the first cluster's rest, and the new one
    submitted = [b for b in backend_ids(parts, job_ids).values() if b]
    assert len(submitted) == 65


def test_the_slice_size_setting_splits_a_queue_into_clusters(condor):
    parts, schedd = condor
    parts.settings = parts.settings.with_overrides(bulk_slice_size=300)
    job_ids = queue_echo_jobs(parts, 700)
    dispatcher = _dispatcher(parts, schedd)
    dispatcher.tick()
    assert schedd.calls.count("submit") == 3
    assert len(_clusters(schedd)) == 3
    assert all(backend_ids(parts, job_ids).values())


class _Killed(BaseException):
    """Stands for the dispatcher's death right after the schedd took the cluster."""


def test_a_dispatcher_dying_between_the_bulk_submit_and_its_record_is_adopted_whole(
        condor, monkeypatch):
    parts, schedd = condor
    job_ids = queue_echo_jobs(parts, 200)
    dying = _dispatcher(parts, schedd)

    def die(self: bulk.BulkSubmitter, group: object, found: object) -> None:
        raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(bulk.BulkSubmitter, "record", die)
        with pytest.raises(_Killed):
            dying.tick()
    assert len(schedd.queue) == 200
    assert not any(backend_ids(parts, job_ids).values())  # the record never happened
    queries = schedd.calls.count("query")
    successor = _dispatcher(parts, schedd)
    successor.tick()
    assert schedd.calls.count("submit") == 1  # none submitted twice
    assert schedd.calls.count("query") - queries <= 3  # adopted with one lookup, not 200
    recorded = backend_ids(parts, job_ids)
    assert all(recorded.values())
    assert {schedd.queue[b]["UwsJobId"] for b in recorded.values()} == set(job_ids)
    assert len(set(recorded.values())) == 200
