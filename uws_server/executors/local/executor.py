"""The embedded backend: jobs as local processes, a bounded number at a time.

Each job runs under a small supervisor (:mod:`.runner`) in its own session,
so a cancel kills the whole process group and a restart of the service does
not lose the job: the supervisor records the exit status in the job's
directory, where any later incarnation of the executor reads it.

Record first, run second: the supervisor starts, waits, and runs the job only
once ``.runner.json`` (its process id and the submit token) is in place, so
a job that runs can always be found by its token and adopted, and a
supervisor whose submission was cut short runs nothing.

Slots are cores: ``concurrency`` is the pool's size, and a job takes as many
slots as the cores it asks for (``JobSpec.resources.cpus``, rounded up, at least
one; :meth:`LocalExecutor.slots_needed`). A job asking for more cores than the
pool has is refused for good. :meth:`LocalExecutor.submit_many` starts a slice
of jobs in three steps (start every supervisor, write every record, give every
go-ahead), so that one bulk hand-over costs one pass over the slice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from ..base import (
    BackendState,
    BackendStatus,
    Executor,
    ExecutorError,
    JobHandle,
    JobSpec,
    Submission,
)
from .runner import EXIT_NO_SPACE, disk_full, is_running, process_id, write_atomically

log = logging.getLogger(__name__)

STATUS_FILE = ".exit.json"
RUNNER_FILE = ".runner.json"
CANCEL_MARKER = ".cancelled"
SUBMIT_LOCK = ".submit.lock"


#: How long a submission waits for another one of the same job (a paused dispatcher).
SUBMISSION_LOCK_SECONDS = 1.0
#: Jobs started together by :meth:`LocalExecutor.submit_many` (each holds a lock and a pipe).
START_CHUNK = 32


@contextlib.contextmanager
def _submission_lock(workdir: Path) -> Iterator[None]:
    """Hold the job directory's ``.submit.lock`` (flock), or raise a transient ExecutorError.

    A dispatcher frozen while holding it must not stall its successor's tick:
    the wait is bounded, and the successor tries again at a later tick.
    """
    fd = os.open(workdir / SUBMIT_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + SUBMISSION_LOCK_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ExecutorError("another submission of this job is under way",
                                        transient=True) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _recorded_slots(record: Path) -> int:
    """The slots a job's record says it takes (1 for records written before slots were)."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 1
    slots = data.get("slots") if isinstance(data, dict) else None
    return slots if isinstance(slots, int) and slots > 0 else 1


def environment_for(spec: JobSpec, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A job's full environment: a few safe variables of ours plus the spec's.

    The service's own environment (database URL, tokens) is never passed on.
    """
    source = os.environ if base is None else base
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "USER", "LOGNAME", "TMPDIR", "PYTHONPATH")
    env = {k: source[k] for k in keep if k in source}
    env.update(spec.env)
    return env


class LocalExecutor(Executor):
    """Runs jobs as child processes of this host.

    A local process is never held (:attr:`can_hold` is false, so ``release``
    keeps the base class's refusal) nor listed as an orphan; the dispatcher
    polls it every tick and enforces its durations itself.

    Parameters
    ----------
    jobs_dir
        The root of job directories (to find a job's runner file by id).
    concurrency
        The pool's slots (cores): how many one-core jobs may run at once.
    on_change
        Called (from a watcher thread) whenever a job process ends, so the
        dispatcher reacts at once instead of at its next tick.
    """

    name = "local"
    can_hold = False
    supports_bulk_submit = True

    def __init__(self, jobs_dir: Path, concurrency: int,
                 on_change: Callable[[], None] | None = None) -> None:
        self.jobs_dir = jobs_dir
        self.concurrency = concurrency
        self.on_change = on_change
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._slots: dict[str, int] = {}
        self._lock = threading.Lock()
        self._adopted_running = 0

    def free_slots(self) -> int:
        """The pool's slots minus those of the jobs running now (ours and adopted ones)."""
        with self._lock:
            taken = sum(self._slots.get(job_id, 1) for job_id, p in self._children.items()
                        if p.returncode is None)
        return max(0, self.concurrency - taken - self._adopted_running)

    def slots_needed(self, spec: JobSpec) -> int:
        """The cores the job asks for (at least 1); a permanent refusal if the pool is smaller."""
        cpus = spec.resources.cpus
        need = max(1, math.ceil(cpus)) if cpus else 1
        if need > self.concurrency:
            raise ExecutorError(
                f"the job asks for {need} cores but the local executor has {self.concurrency} "
                f"slots (UWS_LOCAL_CONCURRENCY): it could never run here", transient=False)
        return need

    def submit(self, spec: JobSpec, token: str) -> Submission:
        """Start the job's supervisor; the backend id is ``pid:start-ticks``.

        One submission of a job at a time (a lock file in its directory), and
        never a second run of one attempt: when the record names another token
        and a supervisor that still runs, or the same or a later attempt
        (:attr:`JobSpec.attempt`; a dispatcher paused past its lease resuming
        in here after its successor submitted the job), that run is returned
        instead of a new one, and nothing of it (status, logs, record) is
        touched. A later attempt (a retry after a system failure) starts anew.
        """
        return self.submit_many([spec], [token])[0]

    def _already_running(self, spec: JobSpec, token: str) -> str | None:
        live = self._live_run(spec.workdir / RUNNER_FILE, token, spec.attempt)
        if live is not None:
            log.warning("job %s: already running as local process %s under another "
                        "submission: not started again", spec.job_id, live,
                        extra={"job_id": spec.job_id, "backend_id": live})
        return live

    def _live_run(self, record: Path, token: str, attempt: int) -> str | None:
        """The backend id the record names if it is another submission that must stand:
        its supervisor still runs, or it is of this attempt or a later one."""
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        backend_id = data.get("backend_id") if isinstance(data, dict) else None
        if not isinstance(backend_id, str) or data.get("token") == token:
            return None
        recorded = data.get("attempt")
        newer = attempt > 0 and isinstance(recorded, int) and recorded >= attempt
        return backend_id if newer or self._alive(backend_id) else None

    def submit_many(self, specs: Sequence[JobSpec], tokens: Sequence[str]) -> list[Submission]:
        """Start jobs :data:`START_CHUNK` at a time: spawn all, record all, then let all run.

        Each job is submitted as :meth:`submit` describes (its lock, the same
        refusal to run an attempt twice). A failure ends the call: the jobs of
        earlier chunks run and are found by token; those of the failing chunk
        that were spawned but not recorded exit without running anything.
        """
        if len(specs) != len(tokens):
            raise ExecutorError("submit_many needs as many tokens as specs", transient=False)
        for spec in specs:
            if not spec.argv:
                raise ExecutorError("the job type's command is empty", transient=False)
            self.slots_needed(spec)
        submissions: list[Submission] = []
        pairs = list(zip(specs, tokens, strict=True))
        for start in range(0, len(pairs), START_CHUNK):
            submissions += self._start_chunk(pairs[start:start + START_CHUNK])
        return submissions

    def _start_chunk(self, pairs: list[tuple[JobSpec, str]]) -> list[Submission]:
        answer: list[Submission | None] = []
        spawned: list[tuple[int, JobSpec, str, subprocess.Popen[bytes]]] = []
        with ExitStack() as locks:
            try:
                for spec, token in pairs:
                    locks.enter_context(_submission_lock(spec.workdir))
                    live = self._already_running(spec, token)
                    answer.append(Submission(live) if live is not None else None)
                    if live is None:
                        spawned.append((len(answer) - 1, spec, token, self._spawn(spec, token)))
                for index, spec, token, child in spawned:
                    backend_id = process_id(child.pid)
                    self._record(spec, token, backend_id)
                    answer[index] = Submission(backend_id)
            except BaseException:
                for index, spec, _token, child in spawned:
                    if answer[index] is None:  # unrecorded: its runner exits, running nothing
                        self._abandon(child)
                    else:  # recorded: it runs, and is found by its token
                        self._go(spec, child)
                raise
            for _index, spec, _token, child in spawned:
                self._go(spec, child)
        return [s for s in answer if s is not None]

    def _spawn(self, spec: JobSpec, token: str) -> subprocess.Popen[bytes]:
        """Start the job's supervisor, waiting on its stdin for the go-ahead."""
        status = spec.workdir / STATUS_FILE
        status.unlink(missing_ok=True)
        (spec.workdir / CANCEL_MARKER).unlink(missing_ok=True)
        record = spec.workdir / RUNNER_FILE
        env = environment_for(spec)
        env["UWS_SUBMIT_TOKEN"] = token
        try:
            with open(spec.stdout_path, "wb") as out, open(spec.stderr_path, "wb") as err:
                return subprocess.Popen(
                    [sys.executable, "-m", "uws_server.executors.local.runner", str(record),
                     str(status), "--", *spec.argv],
                    cwd=spec.workdir, env=env, stdin=subprocess.PIPE, stdout=out, stderr=err,
                    start_new_session=True, close_fds=True,
                )
        except OSError as exc:
            raise ExecutorError(f"cannot start the job runner: {exc}", transient=False) from exc

    def _record(self, spec: JobSpec, token: str, backend_id: str) -> None:
        """Write the record naming the supervisor (the runner runs the job only then)."""
        try:
            write_atomically(spec.workdir / RUNNER_FILE,
                             {"backend_id": backend_id, "token": token, "attempt": spec.attempt,
                              "slots": self.slots_needed(spec)})
        except OSError as exc:
            raise ExecutorError(f"cannot record the job's process in its directory: "
                                f"{exc.strerror or exc}", transient=False) from exc

    @staticmethod
    def _abandon(child: subprocess.Popen[bytes]) -> None:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()

    def _go(self, spec: JobSpec, child: subprocess.Popen[bytes]) -> None:
        """The go-ahead (a crash before this closes the pipe too), then watch the job."""
        assert child.stdin is not None
        child.stdin.close()
        with self._lock:
            self._children[spec.job_id] = child
            self._slots[spec.job_id] = self.slots_needed(spec)
        threading.Thread(target=self._watch, args=(child,), name=f"watch-{spec.job_id[:8]}",
                         daemon=True).start()
        log.info("job %s started as local process %s", spec.job_id, child.pid)

    def _watch(self, child: subprocess.Popen[bytes]) -> None:
        child.wait()
        if self.on_change is not None:
            self.on_change()

    def find(self, job_id: str, token: str) -> str | None:
        """The backend id recorded in the job's directory for this token, if any."""
        try:
            data = json.loads((self.jobs_dir / job_id / RUNNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data.get("backend_id") if data.get("token") == token else None

    def _alive(self, backend_id: str) -> bool:
        pid_text, _, ticks = backend_id.partition(":")
        return pid_text.isdigit() and is_running(int(pid_text), ticks)

    def poll(self, handles: Mapping[str, JobHandle]) -> dict[str, BackendStatus]:
        """Read each job's exit status file, or see that its supervisor still runs."""
        report: dict[str, BackendStatus] = {}
        adopted_running = 0
        for job_id, handle in handles.items():
            with self._lock:
                child = self._children.get(job_id)
            running = child.poll() is None if child is not None else self._alive(handle.backend_id)
            if running:
                if child is None:
                    adopted_running += _recorded_slots(handle.workdir / RUNNER_FILE)
                report[job_id] = BackendStatus(BackendState.EXECUTING)
                continue
            report[job_id] = self._finished(handle, child)
            with self._lock:
                self._children.pop(job_id, None)
                self._slots.pop(job_id, None)
        self._adopted_running = adopted_running
        return report

    def _finished(self, handle: JobHandle, child: subprocess.Popen[bytes] | None) -> BackendStatus:
        cancelled = (handle.workdir / CANCEL_MARKER).exists()
        try:
            data = json.loads((handle.workdir / STATUS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if cancelled:
            return BackendStatus(BackendState.CANCELLED, cancelled_by_service=True,
                                 reason="aborted")
        if data is None:
            if child is not None and child.returncode is not None and child.returncode < 0:
                return BackendStatus(BackendState.CANCELLED,
                                     reason=f"killed by signal {-child.returncode}")
            if (child is not None and child.returncode == EXIT_NO_SPACE) \
                    or disk_full(handle.workdir):
                # Not a system failure to retry: a retry would only fill the disk again.
                return BackendStatus(BackendState.FAILED, disk_full=True,
                                     reason="no space left on device: the job's filesystem "
                                            "is full and its exit status could not be recorded")
            return BackendStatus(BackendState.FAILED, system_failure=True,
                                 reason="the job's process vanished without an exit status")
        started, ended = _parse_time(data.get("started")), _parse_time(data.get("ended"))
        code = data.get("exit_code")
        if code == 0:
            return BackendStatus(BackendState.COMPLETED, exit_code=0, started_at=started,
                                 ended_at=ended)
        reason = data.get("reason") or f"exit code {code}"
        return BackendStatus(BackendState.FAILED, exit_code=code, reason=str(reason),
                             started_at=started, ended_at=ended,
                             disk_full=bool(data.get("disk_full")))

    def cancel(self, job_id: str, handle: JobHandle) -> None:
        """Kill the job's whole process group (supervisor, job and its children)."""
        (handle.workdir / CANCEL_MARKER).touch()
        if not self._alive(handle.backend_id):
            return
        pid = int(handle.backend_id.partition(":")[0])
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        log.info("job %s: killed local process group %s", job_id, pid)

    def update_duration(self, job_id: str, handle: JobHandle, seconds: int) -> None:
        """Nothing to do: the dispatcher enforces durations of local jobs itself."""

    def orphans(self, known_job_ids: Iterable[str]) -> list[str]:
        """Local jobs live in job directories, which the dispatcher purges: none to report."""
        return []

    def close(self) -> None:
        """Leave running jobs alone: they survive a restart and are adopted."""
