"""A 1,000-job echo sweep runs to SUCCEEDED on the local executor, its counts moving as it goes.

1,000 jobs on SQLite; 250 on PostgreSQL, where the same path costs twice as long and the
1,000-job figure adds nothing the SQLite run and the bulk tests (tests/bulk, tests/slurm)
do not already show.
"""

from __future__ import annotations

import time

from tests.batches.conftest import Users


def test_an_echo_sweep_of_a_thousand_jobs_runs_to_succeeded_with_moving_counts(
        users: Users, database_url: str):
    N_JOBS = 1000 if database_url.startswith("sqlite") else 250
    doc = users.create({"tool_id": "echo",
                        "sweep": {"message": [f"sweep-{i}" for i in range(N_JOBS)]}})
    batch_id = doc["batch_id"]
    assert doc["submitted_jobs"]["PENDING"] == N_JOBS
    seen = []
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        counts = users.call("GET", f"/batches/{batch_id}").json()["submitted_jobs"]
        assert sum(counts.values()) == N_JOBS, counts
        seen.append(counts)
        if counts["SUCCEEDED"] == N_JOBS:
            break
        time.sleep(1)
    assert seen[-1]["SUCCEEDED"] == N_JOBS, f"{seen[-1]}\n{users.server.log()[-3000:]}"
    done = [c["SUCCEEDED"] for c in seen]
    assert done == sorted(done), "SUCCEEDED went backwards"
    assert any(0 < c["SUCCEEDED"] < N_JOBS for c in seen), "never seen part way"
    assert seen[-1]["FAILED"] == 0
    succeeded = []
    for offset in range(0, N_JOBS, 300):
        response = users.call("GET", f"/batches/{batch_id}/jobs",
                              params={"status": "SUCCEEDED", "limit": 300, "offset": offset})
        succeeded += response.json()
    assert [job["args"]["message"] for job in succeeded] == [f"sweep-{i}"
                                                              for i in range(N_JOBS)]
    last = succeeded[-1]
    log = users.call("GET", last["log_id"].removeprefix(users.server.url))
    assert log.status_code == 200, log.text
