"""Held jobs are released on a real HTCondor pool (marker ``condor_pool``, see ``test_pool``).

A job a person holds is HELD; :meth:`HTCondorExecutor.release` (``JobAction.Release``) lets
it run again, to COMPLETED; releasing a job that is not held changes nothing.
"""

from __future__ import annotations

import pytest

from tests.htcondor.conftest import handle_for
from tests.htcondor.test_pool import FINAL, condor_pool, pool_executor, root, spec, wait
from uws_server.executors.base import BackendState

pytestmark = pytest.mark.condor_pool
__all__ = ["condor_pool", "pool_executor", "root"]  # fixtures, shared with test_pool


def test_a_job_held_by_a_person_is_released_and_runs_to_completed(pool_executor, root):
    job = spec(root, "poolrelease", ("/bin/sh", "-c", "echo released > outputs/r.txt"))
    handles = {job.job_id: handle_for(job, pool_executor.submit(job, "tok").backend_id)}
    pool_executor._schedd.act("Hold", [handles[job.job_id].backend_id], "pool test hold")
    assert wait(pool_executor, handles, until=FINAL | {BackendState.HELD})[job.job_id].state \
        is BackendState.HELD
    pool_executor.release(job.job_id, handles[job.job_id])
    status = wait(pool_executor, handles)[job.job_id]
    assert status.state is BackendState.COMPLETED, status
    assert (job.output_dir / "r.txt").read_text().strip() == "released"


def test_releasing_a_job_that_is_not_held_leaves_it_as_it_is(pool_executor, root):
    job = spec(root, "poolnothold", ("/bin/sleep", "600"))
    handles = {job.job_id: handle_for(job, pool_executor.submit(job, "tok").backend_id)}
    wait(pool_executor, handles, until={BackendState.EXECUTING})
    pool_executor.release(job.job_id, handles[job.job_id])
    assert wait(pool_executor, handles, until={BackendState.EXECUTING})[job.job_id].state \
        is BackendState.EXECUTING
    pool_executor.cancel(job.job_id, handles[job.job_id])
