"""The supervisor the local executor starts for every job.

``python -m uws_server.executors.local.runner STATUS_FILE -- ARGV...`` runs ARGV
(no shell), waits for it and writes its exit status to STATUS_FILE
atomically. Because the status lives in the job's directory, a job started
before a restart of the service is still followed, and never run twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime


def _now() -> str:
    return datetime.now(UTC).isoformat()


def main(args: list[str]) -> int:
    """Run the job and record how it ended."""
    if len(args) < 3 or args[1] != "--":
        print("usage: runner STATUS_FILE -- ARGV...", file=sys.stderr)
        return 2
    status_file, argv = args[0], args[2:]
    started = _now()
    status: dict[str, object] = {"started": started}
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        print(f"uws-server: cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        status.update(exit_code=127, reason=f"cannot start {argv[0]!r}: {exc.strerror}")
    else:
        code = child.wait()
        if code < 0:
            status.update(exit_code=None, signal=-code, reason=f"killed by signal {-code}")
        else:
            status.update(exit_code=code)
    status["ended"] = _now()
    partial = status_file + ".part"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(status, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, status_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
