"""``uws-server worker`` that kills itself (SIGKILL) at one point of a local submission.

``python -m tests.hardening.crash_worker POINT`` with the usual ``UWS_*``
environment. It is the real worker with one real ``kill -9`` placed at:

``after-start``
    right after the job's supervisor process was started, before anything about it is
    recorded (``.runner.json``, the backend id);
``after-record``
    right after ``.runner.json`` is written, before the supervisor is told to go;
``after-submit``
    after ``LocalExecutor.submit`` returned, before the backend id is committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

from uws_server import cli
from uws_server.executors.local import executor as local

RUNNER = "uws_server.executors.local.runner"


def _die() -> None:
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _install(point: str) -> None:
    if point == "after-start":
        real = subprocess.Popen

        class DyingPopen(real):  # type: ignore[misc, valid-type]
            def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
                super().__init__(args, *rest, **kwargs)
                if RUNNER in list(args):
                    _die()

        subprocess.Popen = DyingPopen  # type: ignore[misc]
    elif point == "after-record":
        real_write = local.write_atomically

        def write_then_die(path: Any, data: Any) -> None:
            real_write(path, data)
            _die()

        local.write_atomically = write_then_die  # type: ignore[assignment]
    elif point == "after-submit":
        real_submit = local.LocalExecutor.submit

        def submit_then_die(self: Any, spec: Any, token: str) -> Any:
            real_submit(self, spec, token)
            _die()

        local.LocalExecutor.submit = submit_then_die  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown crash point {point!r}")


if __name__ == "__main__":
    _install(sys.argv[1])
    sys.exit(cli.main(["worker"]))
