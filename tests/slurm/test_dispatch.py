"""The Slurm backend behind the dispatcher and the UWS endpoints, on the real test cluster."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import POSTGRES_BASE
from tests.fakes import SimulatedCrash
from tests.slurm.conftest import Cluster, make_executor, slurm_state
from tests.support import LiveServer, job_id_of, server_with_own_database
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.identity import ANONYMOUS
from uws_server.models import DispatcherLease
from uws_server.wiring import bootstrap, build_components

pytestmark = pytest.mark.slurm


def test_uws_jobs_run_and_abort_on_slurm_through_http(slurm_cluster: Cluster, tmp_path: Path,
                                                      service: str):
    with LiveServer.start(tmp_path, f"sqlite:///{tmp_path / 'uws.sqlite3'}",
                          UWS_EXECUTOR="slurm", UWS_SLURM_CONF=slurm_cluster.conf,
                          UWS_SERVICE_NAME=f"{service}-http") as server:
        job = server.create("echo", {"message": "from slurm", "PHASE": "RUN"})
        assert server.wait_phase(job, {"COMPLETED", "ERROR"}, timeout=90) == "COMPLETED", \
            requests.get(job, timeout=5).text
        assert requests.get(f"{job}/results/result", timeout=5).text == "from slurm"

        sleeper = server.create("sleep", {"seconds": "120", "PHASE": "RUN"})
        server.wait_phase(sleeper, {"EXECUTING"}, timeout=60)
        requests.post(f"{sleeper}/phase", data={"PHASE": "ABORT"}, timeout=10)
        assert requests.get(f"{sleeper}/phase", timeout=5).text == "ABORTED"
        job_id = sleeper.rsplit("/", 1)[1]
        deadline = time.monotonic() + 30
        while job_id in _queue(slurm_cluster):
            assert time.monotonic() < deadline, "aborted job still in squeue"
            time.sleep(0.5)


def _queue(cluster: Cluster) -> str:
    """Every live job's comment, as Slurm itself lists them."""
    return cluster.run("squeue", "--noheader", "--format=%k %T").stdout


def test_dispatcher_killed_mid_submission_loses_no_job_and_runs_none_twice(
        slurm_cluster: Cluster, tmp_path: Path, service: str):
    settings = Settings(data_dir=tmp_path / "data",
                        database_url=f"sqlite:///{tmp_path / 'uws.sqlite3'}",
                        service_name=f"{service}-crash")
    bootstrap(settings)
    parts = build_components(settings)
    job = parts.jobs.create(ANONYMOUS, "echo", [("message", "once"), ("PHASE", "RUN")], {})

    crashing = make_executor(slurm_cluster, settings.service_name)
    real_submit = crashing.submit

    def submit_then_die(spec, token):
        real_submit(spec, token)  # sbatch accepted the job...
        raise SimulatedCrash("...and the dispatcher died before recording its id")

    crashing.submit = submit_then_die
    crasher = Dispatcher(parts, crashing)
    assert crasher.lease.renew()  # submission is fenced: only the lease holder submits
    with pytest.raises(SimulatedCrash):
        crasher.submit_queued()
    with parts.db.write() as session:  # the dead dispatcher's lease
        session.query(DispatcherLease).delete()

    restarted = Dispatcher(parts, make_executor(slurm_cluster, settings.service_name))
    deadline = time.monotonic() + 90
    while (phase := parts.jobs.get(ANONYMOUS, "echo", job.id).phase) not in ("COMPLETED",
                                                                              "ERROR"):
        assert time.monotonic() < deadline, phase
        restarted.tick()
        time.sleep(0.5)
    assert phase == "COMPLETED"
    outputs = parts.storage.job_dir(job.id) / "outputs" / "result.txt"
    assert outputs.read_text() == "once"
    stdout = (parts.storage.job_dir(job.id) / "stdout.txt").read_text()
    assert stdout.count("once") == 1  # ran exactly once
    listed = subprocess.run(["scontrol", "-o", "show", "job"], env=slurm_cluster.env(),
                            capture_output=True, text=True, timeout=30).stdout
    assert sum(job.id in line for line in listed.splitlines()) == 1
    parts.bus.close()


def _slurm_id_of(cluster: Cluster, job_id: str, timeout: float = 30) -> str:
    """The Slurm job id whose comment names this UWS job (once the dispatcher submitted it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in cluster.run("squeue", "--noheader", "--format=%i %k").stdout.splitlines():
            ident, _, comment = line.partition(" ")
            if job_id in comment:
                return ident
        time.sleep(0.3)
    raise AssertionError(f"UWS job {job_id} never reached squeue")


def test_a_job_held_in_slurm_is_held_and_phase_run_releases_it_to_completion(
        slurm_cluster: Cluster, full_node: str, database_url: str, tmp_path: Path,
        service: str):
    with server_with_own_database(database_url, tmp_path, "slurmheld", POSTGRES_BASE,
                                  UWS_EXECUTOR="slurm", UWS_SLURM_CONF=slurm_cluster.conf,
                                  UWS_SERVICE_NAME=f"{service}-held") as server:
        job = server.create("echo", {"message": "released", "PHASE": "RUN"})
        slurm_id = _slurm_id_of(slurm_cluster, job_id_of(job))
        held = slurm_cluster.run("scontrol", "hold", slurm_id)
        assert held.returncode == 0, held.stderr
        assert server.wait_phase(job, {"HELD"}, timeout=30) == "HELD"

        slurm_cluster.run("scancel", full_node)  # room for it now, but it is held
        time.sleep(3)  # several scheduler passes (sched_interval=1) and dispatcher polls
        assert requests.get(f"{job}/phase", timeout=5).text == "HELD"
        assert slurm_state(slurm_cluster, slurm_id) == "PENDING"

        response = requests.post(f"{job}/phase", data={"PHASE": "RUN"}, allow_redirects=False,
                                 timeout=10)
        assert response.status_code == 303, response.text
        assert requests.get(f"{job}/phase", timeout=5).text == "QUEUED"
        assert server.wait_phase(job, {"COMPLETED", "ERROR", "HELD"}, timeout=60) == \
            "COMPLETED", requests.get(job, timeout=5).text
        assert requests.get(f"{job}/results/result", timeout=5).text == "released"
        assert f"released backend job {slurm_id}" in server.log()
