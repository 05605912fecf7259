"""``uws-server worker`` that SIGKILLs itself right after a bulk ``sbatch`` of a job array.

``python -m tests.slurm.bulk_crash_worker`` with the usual ``UWS_*`` environment: the
real worker, whose first :meth:`SlurmExecutor.submit_many` reaches Slurm (the array is
queued) and then dies before the dispatcher records a single task id, as a crash would.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from uws_server import cli
from uws_server.executors.base import JobSpec, Submission
from uws_server.executors.slurm import executor as slurm

_submit_many = slurm.SlurmExecutor.submit_many


def _submit_many_then_die(self: slurm.SlurmExecutor, specs: Sequence[JobSpec],
                          tokens: Sequence[str]) -> list[Submission]:
    submissions = _submit_many(self, specs, tokens)
    print(f"{len(specs)} jobs accepted as {submissions[0].backend_id}..; dying before the "
          f"record", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    return submissions


slurm.SlurmExecutor.submit_many = _submit_many_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main(["worker"]))
