"""The supervisor the local executor starts for every job.

``python -m uws_server.executors.local.runner RECORD STATUS -- ARGV...``

1. It waits until its standard input closes. The executor closes it only after
   writing RECORD (``.runner.json``: this process's id and the submit token)
   atomically; if the executor dies first, the pipe closes all the same.
2. It reads RECORD, and runs the job only if the record names this very process
   (pid and start time). A runner whose executor died before recording it
   exits at once having done nothing, and the dispatcher, finding no record for
   its token, submits the job afresh. So every job that runs has a record, and a
   record names one process: a kill -9 of the service at any point of a
   submission never runs a job twice.
3. It reserves the space of its status file, runs ARGV (no shell), waits for it
   and writes the exit status into the reserved space, so that a job that filled
   its disk still leaves its status; it notes when the disk is full (ENOSPC) so
   that the job ends in ERROR instead of being retried as a system failure.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

#: Exit status of a runner the record does not name (it ran nothing).
EXIT_NOT_RECORDED = 75
#: Exit status of a runner that could not write its status for lack of space.
EXIT_NO_SPACE = 28
#: Bytes reserved for the status file before the job runs (a status is ~200 bytes).
RESERVED = 4096
#: A filesystem with less free space than this, after a job failed, counts as full.
LOW_SPACE = 64 * 1024
NO_SPACE_TEXT = "No space left on device"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks (guards against PID reuse), or None."""
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def is_running(pid: int, ticks: str) -> bool:
    """Whether ``pid`` is the process started at ``ticks`` and has not ended (nor is a zombie)."""
    fields = _stat_fields(pid)
    return (fields is not None and len(fields) > 19 and fields[19] == ticks
            and fields[0] not in ("Z", "X"))


def process_id(pid: int) -> str:
    """The backend id of a local process: ``pid:start-ticks``."""
    return f"{pid}:{start_ticks(pid) or '0'}"


def disk_full(path: str | os.PathLike[str]) -> bool:
    """Whether the filesystem holding ``path`` has (almost) no space left for us."""
    try:
        info = os.statvfs(path)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < LOW_SPACE


def write_atomically(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write JSON to ``path`` so that readers see the old file or the new one, never a part."""
    partial = f"{os.fspath(path)}.part"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _recorded(record: str) -> bool:
    """Whether the record names this process (the executor's go-ahead)."""
    try:
        with open(record, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("backend_id") == process_id(os.getpid())


def _stderr_says_no_space() -> bool:
    """Whether the end of the job's standard error (our fd 2) reports ENOSPC."""
    try:
        with open("/proc/self/fd/2", "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - 8192))
            return NO_SPACE_TEXT.encode() in handle.read()
    except OSError:
        return False


def _run(argv: list[str]) -> dict[str, object]:
    status: dict[str, object] = {"started": _now()}
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        print(f"uws-server: cannot start {argv[0]!r}: {exc.strerror}", file=sys.stderr)
        status.update(exit_code=127, reason=f"cannot start {argv[0]!r}: {exc.strerror}")
        if exc.errno == errno.ENOSPC:
            status["disk_full"] = True
    else:
        code = child.wait()
        if code < 0:
            status.update(exit_code=None, signal=-code, reason=f"killed by signal {-code}")
        else:
            status.update(exit_code=code)
        if code != 0 and (disk_full(".") or _stderr_says_no_space()):
            status["disk_full"] = True
            status["reason"] = (f"no space left on device: the job's filesystem is full "
                                f"({status.get('reason') or f'exit code {code}'})")
    status["ended"] = _now()
    return status


def main(args: list[str]) -> int:
    """Wait for the record, run the job, and record how it ended."""
    if len(args) < 4 or args[2] != "--":
        print("usage: runner RECORD STATUS_FILE -- ARGV...", file=sys.stderr)
        return 2
    record, status_file, argv = args[0], args[1], args[3:]
    sys.stdin.buffer.read()  # until the executor has written the record, or died
    if not _recorded(record):
        return EXIT_NOT_RECORDED  # never started: no output, no status, nothing
    partial = status_file + ".part"
    try:
        handle = open(partial, "wb")  # noqa: SIM115 - kept open across the job's run
        handle.write(b" " * RESERVED)  # JSON allows trailing blanks: overwritten in place
        handle.flush()
        os.fsync(handle.fileno())
    except OSError as exc:
        print(f"uws-server: cannot reserve the job's status file: {exc.strerror}",
              file=sys.stderr)
        return EXIT_NO_SPACE if exc.errno == errno.ENOSPC else 1  # the job did not run
    with handle:
        data = json.dumps(_run(argv)).encode()
        try:
            handle.seek(0)
            handle.write(data.ljust(RESERVED))
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            return EXIT_NO_SPACE if exc.errno == errno.ENOSPC else 1
    os.replace(partial, status_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
