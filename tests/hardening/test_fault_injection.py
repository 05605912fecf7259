"""Fault injection (issue 15): kill -9 of the dispatcher at random points of local submission.

Each trial queues three ``append`` jobs (the program appends a line to its job
directory's ``runs.log`` as its first act), starts a real ``uws-server worker``,
waits for it to begin its loop and SIGKILLs it after a random 0-300 ms: during
the claim, the backend call, the record, or the recovery of the previous
trial's crash. A last clean worker then finishes everything. No job may be
lost (not COMPLETED), duplicated (its program ran more than once) or stuck.

``UWS_TEST_FAULT_TRIALS`` sets the number of trials per database (CI: 6, about 20 s);
``UWS_TEST_FAULT_SEED`` replays a sequence. The counts are printed (``pytest -s``).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

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
from uws_server.identity import ANONYMOUS
from uws_server.jobtypes import service as jobtypes
from uws_server.models import Job
from uws_server.wiring import Components

TRIALS = int(os.environ.get("UWS_TEST_FAULT_TRIALS", "6"))
JOBS_PER_TRIAL = 3
FINAL = ("COMPLETED", "ERROR", "ABORTED")


def _cut_mid_submission(parts: Components) -> int:
    """Jobs a kill left claimed but unrecorded (token committed, no backend id)."""
    with parts.db.read() as session:
        return session.scalar(select(func.count()).select_from(Job).where(
            Job.submit_token.is_not(None), Job.backend_id.is_(None))) or 0


def test_kill_9_at_random_points_of_local_submission_loses_duplicates_and_strands_nothing(
        components, tmp_path):
    seed = int(os.environ.get("UWS_TEST_FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    manifests = write_manifests(tmp_path / "manifests")
    with components.db.write() as session:
        jobtypes.load_directory(session, manifests)
    env = worker_env(components.settings.data_dir, components.settings.effective_database_url,
                     manifests, UWS_LOCAL_CONCURRENCY="8")
    job_ids: list[str] = []
    cut = 0
    started = time.monotonic()
    for trial in range(TRIALS):
        job_ids += [components.jobs.create(ANONYMOUS, "append",
                                           [("seconds", "0"), ("PHASE", "RUN")], {}).id
                    for _ in range(JOBS_PER_TRIAL)]
        log: Path = tmp_path / f"worker-{trial}.log"
        worker = start_worker(env, log)
        try:
            assert wait_until(lambda log=log: "started (executor" in log.read_text(), 60,
                              step=0.01), log.read_text()
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            kill(worker)
        cut += _cut_mid_submission(components)
    final = start_worker(env, tmp_path / "worker-final.log")

    def phases() -> dict[str, str]:
        return phases_of(components.db, job_ids)

    try:
        wait_until(lambda: all(p in FINAL for p in phases().values()), 120, step=0.2)
    finally:
        stop(final)
    seen = phases()
    counts = {job_id: runs(components.storage.job_dir(job_id)) for job_id in job_ids}
    lost, duplicated, stuck = outcome(job_ids, seen, counts)
    print(f"\nfault injection ({components.db.engine.dialect.name}, seed {seed}): "
          f"{TRIALS} kills, {len(job_ids)} jobs, {cut} kills cut a submission mid-way; "
          f"lost {len(lost)}, duplicated {len(duplicated)}, stuck {len(stuck)}; "
          f"{time.monotonic() - started:.0f} s")
    assert (lost, duplicated, stuck) == ([], [], []), {j: (seen.get(j), counts[j])
                                                        for j in lost + duplicated + stuck}
