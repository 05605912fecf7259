"""The Slurm execution backend: batch jobs and job arrays through sbatch.

The executor keeps no job state: every answer comes from Slurm (squeue for
jobs in the controller, then sacct, or ``scontrol show job`` when there is no
accounting) and from two files in each job's workdir, the environment file
the batch script sources and the cancel marker written before the service
scancels a job (which is how ``cancelled_by_service`` is known). Every Slurm
command is a short-lived process, so there is nothing to close. Batch-script
generation lives in :mod:`.script`, the queries in :mod:`.queries`, output
parsing in :mod:`.records`, the state mapping in :mod:`.status`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from uws_server.executors.base import (
    BackendState,
    BackendStatus,
    Executor,
    ExecutorError,
    JobHandle,
    JobSpec,
    Submission,
    check_service,
)
from uws_server.executors.slurm import arrays
from uws_server.executors.slurm.queries import SlurmQueries
from uws_server.executors.slurm.records import JobRecord
from uws_server.executors.slurm.runner import CommandResult, SlurmRunner, looks_transient
from uws_server.executors.slurm.script import (
    ARRAY_SCRIPT_FILE,
    MAX_COMMENT,
    SCRIPT_FILE,
    array_duration,
    check_spec,
    decode_comment,
    duration_minutes,
    encode_comment,
    render_array_script,
    render_script,
    token_tag,
    write_env_file,
    write_script,
)
from uws_server.executors.slurm.settings import SlurmSettings
from uws_server.executors.slurm.status import is_final, to_status

__all__ = ["CANCEL_MARKER", "SlurmExecutor", "SlurmSettings"]

log = logging.getLogger(__name__)

#: Written into a job's workdir just before the service scancels it.
CANCEL_MARKER = ".uws-slurm-cancelled"
#: Slurm's default MaxArraySize is 1001 (task ids 0..1000).
MAX_ARRAY_TASKS = 1000
#: scancel/scontrol complaints meaning "that job is already over or gone".
_GONE = ("already completing", "already finished", "invalid job id", "already completed")


class SlurmExecutor(Executor):
    """Runs UWS jobs as Slurm batch jobs (:class:`~.base.Executor`).

    Slurm holds jobs (``scontrol hold``, ``sbatch --hold``, a requeue in held
    state), so :meth:`release` is ``scontrol release``; :meth:`submit_many`
    submits job arrays.

    Parameters
    ----------
    settings
        Site settings (partition, account, QoS, timeouts, accounting...).
    service
        This service instance's identifier; must equal ``JobSpec.service`` of
        the jobs it submits, since :meth:`find` and :meth:`orphans` only
        consider jobs whose comment carries it.
    runner
        Runs the Slurm commands; tests may pass one with other settings.
    uid
        The Slurm user whose jobs are ours (default: this process's uid).
    spool
        A directory for array manifests (:mod:`.arrays`), shared with the
        cluster's nodes. Given, :meth:`submit_many` makes arrays of up to
        ``max_array_size`` tasks; without it, arrays list their tasks in the
        comment, which holds about twenty.
    """

    name = "slurm"
    can_hold = True
    supports_bulk_submit = True
    #: The dispatcher polls no more often than this: squeue/sacct load the controller.
    min_poll_interval = 2.0

    def __init__(
        self,
        settings: SlurmSettings | None = None,
        *,
        service: str = "uws-server",
        runner: SlurmRunner | None = None,
        uid: int | None = None,
        spool: Path | None = None,
    ) -> None:
        self.settings = settings or SlurmSettings()
        self.spool = spool
        self._manifests: dict[str, list[tuple[str, str]]] = {}
        self.service = service
        self.runner = runner or SlurmRunner(self.settings)
        self.uid = os.getuid() if uid is None else uid
        self.queries = SlurmQueries(self.runner, self.uid)

    # -- capabilities -------------------------------------------------------

    def accounting_enabled(self) -> bool:
        """Whether sacct is used for finished jobs (detected once unless configured)."""
        return self.queries.accounting_enabled()

    # -- submission ---------------------------------------------------------

    def submit(self, spec: JobSpec, token: str) -> Submission:
        """Write the job's batch script and environment file, then sbatch it."""
        self._check_service(spec)
        script = render_script(spec, token, self.settings)
        self._prepare(spec)
        path = write_script(spec.workdir / SCRIPT_FILE, script)
        job_id = self._sbatch(path)
        log.info("slurm: submitted UWS job %s as Slurm job %s", spec.job_id, job_id)
        return Submission(backend_id=job_id)

    def submit_many(self, specs: Sequence[JobSpec], tokens: Sequence[str]) -> list[Submission]:
        """Submit jobs as Slurm job arrays (as few as the 1024-char comment allows).

        Task ``i`` of an array runs ``specs[i]`` in its own workdir; its
        backend id is ``<array job id>_<i>``. A task whose execution duration
        is shorter than the array's gets its own limit right after submission.
        """
        if len(specs) != len(tokens):
            raise ExecutorError("specs and tokens differ in length", transient=False)
        for spec in specs:
            self._check_service(spec)
            check_spec(spec)
        submissions: list[Submission] = []
        if self.spool is not None and len(specs) > 1:
            size = self.settings.max_array_size
            for start in range(0, len(specs), size):
                submissions += self._submit_manifest_array(specs[start:start + size],
                                                           tokens[start:start + size])
            return submissions
        for chunk in self._chunks(specs, tokens):
            if len(chunk) == 1:
                submissions.append(self.submit(*chunk[0]))
                continue
            submissions.extend(self._submit_array([s for s, _ in chunk], [t for _, t in chunk]))
        return submissions

    def _chunks(
        self, specs: Sequence[JobSpec], tokens: Sequence[str]
    ) -> list[list[tuple[JobSpec, str]]]:
        """Split jobs into arrays whose comment fits Slurm's 1024 characters."""
        chunks: list[list[tuple[JobSpec, str]]] = []
        current: list[tuple[JobSpec, str]] = []
        for pair in zip(specs, tokens, strict=True):
            candidate = [*current, pair]
            comment = encode_comment(self.service, [(s.job_id, t) for s, t in candidate])
            if current and (len(comment) > MAX_COMMENT or len(candidate) > MAX_ARRAY_TASKS):
                chunks.append(current)
                candidate = [pair]
            current = candidate
        if current:
            chunks.append(current)
        return chunks

    def _submit_manifest_array(
        self, specs: Sequence[JobSpec], tokens: Sequence[str]
    ) -> list[Submission]:
        """One array for all of ``specs``: a manifest, a task file per job, one sbatch."""
        assert self.spool is not None
        for spec in specs:
            self._prepare(spec)
            arrays.write_task_file(spec)
        try:
            name = arrays.write_manifest(self.spool, specs, tokens)
            script = arrays.render_manifest_script(specs, self.spool, name, self.settings)
            path = write_script(arrays.manifest_path(self.spool, name).with_suffix(".sbatch"),
                                script)
        except OSError as exc:
            raise ExecutorError(f"cannot write the array's manifest: {exc}") from exc
        array_id = self._sbatch(path)
        log.info("slurm: submitted %d UWS jobs as Slurm array %s (manifest %s)",
                 len(specs), array_id, name)
        return self._limit_tasks(specs, [Submission(f"{array_id}_{i}")
                                         for i in range(len(specs))])

    def _submit_array(self, specs: Sequence[JobSpec], tokens: Sequence[str]) -> list[Submission]:
        script = render_array_script(specs, tokens, self.settings)
        for spec in specs:
            self._prepare(spec)
        path = write_script(specs[0].workdir / ARRAY_SCRIPT_FILE, script)
        array_id = self._sbatch(path)
        submissions = [Submission(backend_id=f"{array_id}_{i}") for i in range(len(specs))]
        log.info(
            "slurm: submitted UWS jobs %s as Slurm array %s",
            ",".join(s.job_id for s in specs),
            array_id,
        )
        return self._limit_tasks(specs, submissions)

    def _limit_tasks(
        self, specs: Sequence[JobSpec], submissions: list[Submission]
    ) -> list[Submission]:
        """Give a task whose duration is shorter than its array's its own time limit."""
        common = array_duration(specs)
        for spec, submission in zip(specs, submissions, strict=True):
            if spec.execution_duration and spec.execution_duration != common:
                handle = JobHandle(backend_id=submission.backend_id, workdir=spec.workdir)
                try:
                    self.update_duration(spec.job_id, handle, spec.execution_duration)
                except ExecutorError as exc:
                    log.warning(
                        "slurm: task %s keeps the array's time limit: %s",
                        submission.backend_id,
                        exc,
                    )
        return submissions

    @staticmethod
    def _prepare(spec: JobSpec) -> None:
        """Write the environment file; drop a cancel marker left by an earlier run."""
        write_env_file(spec)
        (spec.workdir / CANCEL_MARKER).unlink(missing_ok=True)

    def _sbatch(self, script_path: Path) -> str:
        result = self.runner.check(
            "sbatch", ["--parsable", str(script_path)], submit=True, transient_default=False
        )
        job_id = result.stdout.strip().splitlines()[-1].split(";", 1)[0] if result.stdout else ""
        if not job_id.isdigit():
            raise ExecutorError(f"sbatch answered {result.stdout!r}", transient=True)
        return job_id

    def _check_service(self, spec: JobSpec) -> None:
        check_service(spec, self.service)

    # -- reconciliation -----------------------------------------------------

    def find(self, job_id: str, token: str) -> str | None:
        """The backend id of the job tagged with ``job_id`` and ``token``'s digest."""
        tag = token_tag(token)
        found = self._match(self.queries.queue(), job_id, tag)
        if found is None:
            found = self._match(self.queries.history_all(), job_id, tag)
        return found

    def find_many(self, wanted: Mapping[str, str]) -> dict[str, str]:
        """:meth:`find` for many jobs with one squeue (and one history query if needed)."""
        tags = {job_id: token_tag(token) for job_id, token in wanted.items()}
        found = self._match_all(self.queries.queue(), tags)
        if len(found) < len(tags):
            rest = {j: t for j, t in tags.items() if j not in found}
            found.update(self._match_all(self.queries.history_all(), rest))
        return found

    def _match_all(self, records: Iterable[JobRecord], tags: Mapping[str, str]) -> dict[str, str]:
        wanted = {(job_id, tag): job_id for job_id, tag in tags.items()}
        found: dict[str, str] = {}
        seen: set[int] = set()
        for record in records:
            key = record.array_job_id if record.array_job_id is not None else record.job_id
            if key in seen:
                continue  # the tasks of one array share its comment: read it once
            seen.add(key)
            entries = self._entries(record.comment)
            for index, entry in enumerate(entries or ()):
                job_id = wanted.get(entry)
                if job_id is None or job_id in found:
                    continue
                found[job_id] = (f"{record.array_job_id}_{index}"
                                 if record.array_job_id is not None else str(record.job_id))
        return found

    def _entries(self, comment: str | None) -> list[tuple[str, str]] | None:
        """The ``(job_id, tag)`` of each task a comment of ours names (manifest or inline)."""
        name = arrays.manifest_name(comment, self.service)
        if name is None:
            return decode_comment(comment, self.service)
        if name not in self._manifests:
            entries = arrays.read_manifest(self.spool, name) if self.spool else None
            if entries is None:
                log.warning("slurm: array manifest %s is not readable", name)
                return None
            self._manifests[name] = entries
        return self._manifests[name]

    def _match(self, records: Iterable[JobRecord], job_id: str, tag: str) -> str | None:
        return self._match_all(records, {job_id: tag}).get(job_id)

    def orphans(self, known_job_ids: Iterable[str]) -> list[str]:
        """Backend ids of this service's live jobs whose UWS id is not known."""
        known = set(known_job_ids)
        found: list[str] = []
        for record in self.queries.queue():
            if is_final(record):
                continue
            entries = self._entries(record.comment)
            if not entries:
                continue
            index = record.array_task_id if record.array_job_id is not None else 0
            if index is None or index >= len(entries):
                continue
            if entries[index][0] not in known and record.backend_id not in found:
                found.append(record.backend_id)
        return found

    def free_slots(self) -> int:
        """``max_jobs`` minus this service's jobs still pending or running."""
        ours = sum(
            1
            for record in self.queries.queue()
            if not is_final(record) and self._is_ours(record.comment)
        )
        return max(0, self.settings.max_jobs - ours)

    def _is_ours(self, comment: str | None) -> bool:
        return (arrays.manifest_name(comment, self.service) is not None
                or decode_comment(comment, self.service) is not None)

    # -- following jobs -----------------------------------------------------

    def poll(self, handles: Mapping[str, JobHandle]) -> dict[str, BackendStatus]:
        """Status of each job: squeue first, then sacct or scontrol for the rest."""
        if not handles:
            return {}
        records = {r.backend_id: r for r in self.queries.queue()}
        # Text squeue has no exit codes: finished jobs are looked up in the history,
        # whose record wins; the squeue one stays when the history lacks the job.
        missing = [
            h.backend_id
            for h in handles.values()
            if h.backend_id not in records
            or (is_final(records[h.backend_id]) and records[h.backend_id].exit_code is None)
        ]
        if missing:
            wanted = set(missing)
            records.update(
                {r.backend_id: r for r in self.queries.history(missing) if r.backend_id in wanted}
            )
        answer: dict[str, BackendStatus] = {}
        for job_id, handle in handles.items():
            record = records.get(handle.backend_id)
            if record is None:
                answer[job_id] = BackendStatus(
                    state=BackendState.UNKNOWN,
                    reason=f"Slurm job {handle.backend_id} is not known to Slurm any more",
                )
                continue
            marker = (handle.workdir / CANCEL_MARKER).exists()
            answer[job_id] = to_status(record, cancelled_by_service=marker)
        return answer

    def cancel(self, job_id: str, handle: JobHandle) -> None:
        """Leave the cancel marker, then scancel the job (every step of it)."""
        try:
            (handle.workdir / CANCEL_MARKER).write_text(
                f"cancelled by the service at {datetime.now(UTC).isoformat()}\n"
            )
        except OSError as exc:
            log.warning("slurm: no cancel marker for %s: %s", job_id, exc)
        result = self.runner.run("scancel", ["--full", handle.backend_id])
        self._raise_unless_gone(result, "scancel")
        log.info("slurm: cancelled UWS job %s (Slurm job %s)", job_id, handle.backend_id)

    def cancel_many(self, handles: Mapping[str, JobHandle]) -> None:
        """Leave every cancel marker, then one ``scancel`` (array tasks as ranges)."""
        if not handles:
            return
        for job_id, handle in handles.items():
            try:
                (handle.workdir / CANCEL_MARKER).write_text(
                    f"cancelled by the service at {datetime.now(UTC).isoformat()}\n"
                )
            except OSError as exc:
                log.warning("slurm: no cancel marker for %s: %s", job_id, exc)
        ids = arrays.compress_ids([h.backend_id for h in handles.values()])
        result = self.runner.run("scancel", ["--full", *ids])
        self._raise_unless_gone(result, "scancel")
        log.info("slurm: cancelled %d UWS jobs with one scancel (%s)", len(handles),
                 " ".join(ids)[:200])

    def remove_orphan(self, backend_id: str) -> None:
        """scancel a job :meth:`orphans` listed; it has no workdir, so no cancel marker."""
        result = self.runner.run("scancel", ["--full", backend_id])
        self._raise_unless_gone(result, "scancel")
        log.info("slurm: cancelled orphan Slurm job %s", backend_id)

    def release(self, job_id: str, handle: JobHandle) -> None:
        """``scontrol release``: a held job (user or admin hold, requeued held) may start.

        Slurm accepts releasing a job that is not held; a finished or purged
        job is left alone. Releasing an administrator's hold needs operator
        rights: Slurm's refusal is a permanent :class:`ExecutorError`.
        """
        result = self.runner.run("scontrol", ["release", handle.backend_id])
        self._raise_unless_gone(result, "scontrol release")
        log.info("slurm: released UWS job %s (Slurm job %s)", job_id, handle.backend_id)

    def update_duration(self, job_id: str, handle: JobHandle, seconds: int) -> None:
        """Set the time limit (whole minutes, rounded up; 0 → ``UNLIMITED``).

        Raising a limit needs Slurm operator rights; lowering it does not.
        A job that already finished is left alone.
        """
        limit = "UNLIMITED" if seconds <= 0 else str(duration_minutes(seconds))
        result = self.runner.run(
            "scontrol", ["update", f"JobId={handle.backend_id}", f"TimeLimit={limit}"]
        )
        self._raise_unless_gone(result, "scontrol update")

    @staticmethod
    def _raise_unless_gone(result: CommandResult, what: str) -> None:
        message = result.message
        if result.returncode == 0 and "error" not in message.lower():
            return
        if any(marker in message.lower() for marker in _GONE):
            log.info("slurm: %s: job already over (%s)", what, message)
            return
        if result.returncode != 0:
            raise ExecutorError(
                f"{what} failed ({result.returncode}): {message}",
                transient=looks_transient(message),
            )
