"""The HTCondor bench still runs and reports against the real pool (numbers are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.htcondor.pool import CHECKOUT, Pool, pool_session

pytestmark = pytest.mark.condor_pool


@pytest.fixture(scope="session")
def condor_pool():
    yield from pool_session()


def test_condor_bench_reports_submit_rates_and_the_completion_delay(condor_pool: Pool):
    if condor_pool.pool_dir is None:
        pytest.skip("the bench runs on the test pool (scripts/condor-pool.sh)")
    done = subprocess.run([sys.executable, "bench/condor_pool.py", "--jobs", "3", "--bulk", "5",
                           "--repeats", "1", "--poll-interval", "0.2"], cwd=CHECKOUT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["submit"]["single_jobs_per_s"] > 0 and report["submit"]["bulk_jobs_per_s"] > 0
    assert report["terminate_to_completed_s"]["samples"] == 1
