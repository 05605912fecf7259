"""A dispatcher (``uws-server worker``) that dies right after the schedd accepted a job.

Run by ``test_pool_http.py`` as the pool's submit user: the submission reaches HTCondor, then
the process exits (status 17) before the dispatcher records the cluster id, as a crash would.
"""

from __future__ import annotations

import os
import sys

from uws_server.cli import main
from uws_server.executors.base import JobSpec, Submission
from uws_server.executors.htcondor import executor as htcondor_executor

_submit = htcondor_executor.HTCondorExecutor.submit


def _submit_then_die(
    self: htcondor_executor.HTCondorExecutor, spec: JobSpec, token: str
) -> Submission:
    submission = _submit(self, spec, token)
    print(f"job {spec.job_id} accepted as {submission.backend_id}; dying before it is recorded",
          flush=True)
    os._exit(17)


htcondor_executor.HTCondorExecutor.submit = _submit_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(["worker"]))
