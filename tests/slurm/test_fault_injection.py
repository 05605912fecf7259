"""Fault injection (issue 15): kill -9 of the dispatcher at random points of a Slurm submission.

The Slurm twin of ``tests/hardening/test_fault_injection.py``, on the real test
cluster: each trial queues two ``append`` jobs (the program appends a line to
its job directory's ``runs.log`` as its first act, on the cluster's node), starts
a real ``uws-server worker`` with ``UWS_EXECUTOR=slurm``, waits for it to begin
its loop and SIGKILLs it after a random 0-200 ms: while it asks Slurm for free
slots, claims a job, runs ``sbatch`` (which then finishes as an orphan: Slurm
has the job, the database has no id), records the id, follows the running
jobs, or recovers the previous trial's cut submissions by their token. A last
clean worker then finishes everything. No job may be lost (not COMPLETED, or
its program never ran), duplicated (ran more than once, or more than one Slurm
job carries its id) or stuck.

``UWS_TEST_FAULT_TRIALS`` sets the number of trials per database (CI: 3, about
10 s each); ``UWS_TEST_FAULT_SEED`` replays a sequence. The counts are printed
(``pytest -s``).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.hardening.dispatch_kit import (
    kill,
    outcome,
    phases_of,
    runs,
    start_worker,
    stop,
    wait_until,
    worker_env,
    write_manifests,
)
from tests.slurm.conftest import Cluster
from uws_server.identity import ANONYMOUS
from uws_server.jobtypes import service as jobtypes
from uws_server.models import Job
from uws_server.wiring import Components

pytestmark = pytest.mark.slurm

TRIALS = int(os.environ.get("UWS_TEST_FAULT_TRIALS", "3"))
JOBS_PER_TRIAL = 2
KILL_WINDOW = 0.2  # seconds after the loop starts: its first tick submits within ~150 ms
FINAL = ("COMPLETED", "ERROR", "ABORTED")


def _cut_mid_submission(parts: Components) -> int:
    """Jobs a kill left claimed but unrecorded (token committed, no backend id)."""
    with parts.db.read() as session:
        return session.scalar(select(func.count()).select_from(Job).where(
            Job.submit_token.is_not(None), Job.backend_id.is_(None))) or 0


def _slurm_jobs_per_uws_job(cluster: Cluster, job_ids: list[str]) -> dict[str, int]:
    """How many Slurm jobs (still known to slurmctld) name each UWS job in their comment."""
    comments = cluster.run("squeue", "--noheader", "--states=all", "--format=%k").stdout
    return {job_id: comments.count(job_id) for job_id in job_ids}


def test_kill_9_at_random_points_of_slurm_submission_loses_duplicates_and_strands_nothing(
        slurm_cluster: Cluster, components: Components, service: str, tmp_path: Path):
    seed = int(os.environ.get("UWS_TEST_FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    dialect = components.db.engine.dialect.name
    manifests = write_manifests(tmp_path / "manifests")
    with components.db.write() as session:
        jobtypes.load_directory(session, manifests)
    env = worker_env(components.settings.data_dir, components.settings.effective_database_url,
                     manifests, UWS_EXECUTOR="slurm", UWS_SLURM_CONF=slurm_cluster.conf,
                     UWS_SERVICE_NAME=f"{service}-fault-{dialect}", UWS_POLL_INTERVAL="0.2")
    job_ids: list[str] = []
    cut = 0
    started = time.monotonic()
    for trial in range(TRIALS):
        job_ids += [components.jobs.create(ANONYMOUS, "append",
                                           [("seconds", "0"), ("PHASE", "RUN")], {}).id
                    for _ in range(JOBS_PER_TRIAL)]
        log = tmp_path / f"worker-{trial}.log"
        worker = start_worker(env, log)
        try:
            assert wait_until(lambda log=log: "started (executor" in log.read_text(), 60,
                              step=0.01), log.read_text()
            time.sleep(rng.uniform(0.0, KILL_WINDOW))
        finally:
            kill(worker)
        cut += _cut_mid_submission(components)
    final = start_worker(env, tmp_path / "worker-final.log")

    def phases() -> dict[str, str]:
        return phases_of(components.db, job_ids)

    try:
        wait_until(lambda: all(p in FINAL for p in phases().values()), 90 + 2 * len(job_ids),
                   step=0.5)
        in_slurm = _slurm_jobs_per_uws_job(slurm_cluster, job_ids)
    finally:
        stop(final)
    seen = phases()
    counts = {job_id: runs(components.storage.job_dir(job_id)) for job_id in job_ids}
    lost, duplicated, stuck = outcome(job_ids, seen, counts)
    duplicated += [j for j in job_ids if in_slurm[j] > 1 and j not in duplicated]
    print(f"\nfault injection on slurm ({dialect}, seed {seed}): {TRIALS} kills, "
          f"{len(job_ids)} jobs, {cut} kills cut a submission mid-way; lost {len(lost)}, "
          f"duplicated {len(duplicated)}, stuck {len(stuck)}; "
          f"{time.monotonic() - started:.0f} s")
    assert (lost, duplicated, stuck) == ([], [], []), {
        j: (seen.get(j), counts[j], in_slurm[j]) for j in lost + duplicated + stuck}
