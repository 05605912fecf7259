"""Bulk hand-over to the real test cluster: one job array, one scancel, adoption after a kill."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.bulk.kit import FINAL, backend_ids, phases, queue_echo_jobs, tick_until
from tests.hardening.dispatch_kit import (
    runs,
    start_worker,
    stop,
    wait_until,
    worker_env,
    write_manifests,
)
from tests.slurm.conftest import Cluster
from tests.support import ROOT
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.executors.slurm import SlurmExecutor, SlurmSettings
from uws_server.executors.slurm.runner import CommandResult
from uws_server.identity import ANONYMOUS
from uws_server.jobtypes import service as jobtypes
from uws_server.models import Job
from uws_server.wiring import Components, bootstrap, build_components

pytestmark = pytest.mark.slurm


@pytest.fixture
def parts(tmp_path: Path, service: str) -> Iterator[Components]:
    settings = Settings(data_dir=tmp_path / "data",
                        database_url=f"sqlite:///{tmp_path / 'uws.sqlite3'}",
                        service_name=f"{service}-bulk-{tmp_path.name[-12:]}".replace("_", "-"))
    bootstrap(settings)
    components = build_components(settings)
    yield components
    components.bus.close()


def _executor(cluster: Cluster, parts: Components) -> SlurmExecutor:
    return SlurmExecutor(SlurmSettings(slurm_conf=cluster.conf, command_timeout=30.0),
                         service=parts.settings.service_name,
                         spool=(parts.settings.jobs_dir / ".slurm-arrays").resolve())


def _arrays(ids: dict[str, str | None]) -> set[str]:
    return {str(b).split("_")[0] for b in ids.values()}


def test_a_thousand_echo_jobs_go_to_slurm_as_one_array_and_all_complete(
        slurm_cluster: Cluster, parts: Components):
    job_ids = queue_echo_jobs(parts, 1000)
    dispatcher = Dispatcher(parts, _executor(slurm_cluster, parts))
    dispatcher.tick()
    recorded = backend_ids(parts, job_ids)
    (array,) = _arrays(recorded)
    assert sorted(recorded.values(), key=lambda b: int(str(b).split("_")[1])) == [
        f"{array}_{task}" for task in range(1000)]
    shown = slurm_cluster.run("scontrol", "show", "job", array).stdout
    assert f"ArrayJobId={array}" in shown
    try:
        assert tick_until(dispatcher.tick,
                          lambda: all(p in FINAL for p in phases(parts, job_ids).values()),
                          timeout=1500, step=1.0)
    finally:
        slurm_cluster.run("scancel", array)
    assert set(phases(parts, job_ids).values()) == {"COMPLETED"}
    for index in (0, 500, 999):
        result = parts.storage.job_dir(job_ids[index]) / "outputs" / "result.txt"
        assert result.read_text() == f"m{index}"


def test_aborting_an_array_of_jobs_is_one_scancel(slurm_cluster: Cluster, parts: Components):
    job_ids = [parts.jobs.create(ANONYMOUS, "sleep", [("seconds", "300"), ("PHASE", "RUN")],
                                 {}).id for _ in range(30)]
    executor = _executor(slurm_cluster, parts)
    dispatcher = Dispatcher(parts, executor)
    dispatcher.tick()
    (array,) = _arrays(backend_ids(parts, job_ids))
    commands: list[list[str]] = []
    run = executor.runner.run

    def recording(name: str, args: list[str], **kwargs: object) -> CommandResult:
        commands.append([name, *args])
        return run(name, args, **kwargs)  # type: ignore[arg-type]

    executor.runner.run = recording  # type: ignore[method-assign]
    try:
        for job_id in job_ids:
            parts.jobs.abort(ANONYMOUS, "sleep", job_id)
        dispatcher.tick()
        scancels = [c for c in commands if c[0] == "scancel"]
        assert len(scancels) == 1, scancels
        assert scancels[0][-1] == f"{array}_[0-29]"
        assert set(phases(parts, job_ids).values()) == {"ABORTED"}
        assert wait_until(lambda: not slurm_cluster.run(
            "squeue", "--noheader", "--states=PENDING,RUNNING", f"--jobs={array}").stdout.strip(),
            60, step=0.5)
    finally:
        slurm_cluster.run("scancel", array)


def test_a_worker_killed_between_the_array_sbatch_and_its_record_is_adopted_none_lost_nor_twice(
        slurm_cluster: Cluster, parts: Components, tmp_path: Path):
    manifests = write_manifests(tmp_path / "manifests")
    with parts.db.write() as session:
        jobtypes.load_directory(session, manifests)
    job_ids = [parts.jobs.create(ANONYMOUS, "append", [("seconds", "0"), ("PHASE", "RUN")],
                                 {}).id for _ in range(40)]
    env = worker_env(parts.settings.data_dir, parts.settings.effective_database_url, manifests,
                     UWS_EXECUTOR="slurm", UWS_SLURM_CONF=slurm_cluster.conf,
                     UWS_SERVICE_NAME=parts.settings.service_name, UWS_POLL_INTERVAL="0.2")
    with open(tmp_path / "dying.log", "ab") as log:
        dying = subprocess.run([sys.executable, "-m", "tests.slurm.bulk_crash_worker"], env=env,
                               stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, timeout=120,
                               check=False)
    assert dying.returncode == -9, (tmp_path / "dying.log").read_text()
    with parts.db.read() as session:
        cut = session.scalar(select(func.count()).select_from(Job).where(
            Job.submit_token.is_not(None), Job.backend_id.is_(None)))
    assert cut == 40  # claimed and in Slurm, not one task id recorded
    final = start_worker(env, tmp_path / "final.log")
    try:
        assert wait_until(lambda: all(p in FINAL for p in phases(parts, job_ids).values()),
                          300, step=0.5), (tmp_path / "final.log").read_text()[-3000:]
    finally:
        stop(final)
    assert set(phases(parts, job_ids).values()) == {"COMPLETED"}
    assert [runs(parts.storage.job_dir(j)) for j in job_ids] == [1] * 40  # none ran twice
    assert len(_arrays(backend_ids(parts, job_ids))) == 1  # adopted: no second array
    assert "adopted backend job" in (tmp_path / "final.log").read_text()
