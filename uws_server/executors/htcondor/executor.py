"""The HTCondor :class:`~uws_server.executors.base.Executor`.

Status comes from each job's own event log (``<workdir>/condor.log``), read
incrementally from the dispatcher's cursor, plus a reconciliation query
(``UwsService == ...`` with a projection) about once a minute, falling back
to the history for jobs that left the queue. Every schedd call goes through a
:class:`~.schedd.ScheddAPI`; in production that is a
:class:`~.schedd.ChildProcessSchedd`, so a hung schedd costs a transient
error after ``call_timeout`` seconds, never a frozen dispatcher.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
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
from uws_server.executors.htcondor import reasons, scratch
from uws_server.executors.htcondor.events import read_events
from uws_server.executors.htcondor.mapping import PROJECTION, Fold, ad_status, fold_status
from uws_server.executors.htcondor.quoting import escape_macros, quote_token
from uws_server.executors.htcondor.schedd import Ad, ChildProcessSchedd, ScheddAPI
from uws_server.executors.htcondor.settings import HTCondorSettings
from uws_server.executors.htcondor.submit import (
    EVENT_LOG_NAME,
    build_bulk_description,
    build_description,
    check_expansion,
    classad_string,
)

log = logging.getLogger(__name__)

#: Least seconds between two reconciliations forced by jobs without an event log.
MIN_FORCED_RECONCILE = 5.0
#: Seconds between reconciliations in spool mode (no local event logs to follow).
SPOOL_RECONCILE = 10.0
_MISSING: Ad = {}


def _scrubbed(exc: ExecutorError, specs: Sequence[JobSpec]) -> ExecutorError:
    """The error with every secret value masked: schedd messages may quote the description."""
    message = str(exc)
    secrets = {s.env[k] for s in specs for k in s.secret_env if s.env.get(k)}
    for secret in sorted(secrets, key=len, reverse=True):
        for form in {secret, escape_macros(secret)[0], quote_token(secret)}:
            message = message.replace(form, "***")
    if message == str(exc):
        return exc
    return ExecutorError(message, transient=exc.transient)


def _cluster_constraints(backend_ids: Iterable[str]) -> list[str]:
    """One term per cluster (its procs as a range): a bulk cluster's thousand jobs are one.

    A term per job would make an expression too deep to evaluate for a big cluster.
    """
    procs: dict[int, list[int]] = {}
    for backend_id in backend_ids:
        cluster, _, proc = backend_id.partition(".")
        procs.setdefault(int(cluster), []).append(int(proc or 0))
    return [f"(ClusterId == {cluster} && ProcId == {numbers[0]})" if len(numbers) == 1
            else f"(ClusterId == {cluster} && ProcId >= {min(numbers)} && "
                 f"ProcId <= {max(numbers)})"
            for cluster, numbers in sorted(procs.items())]


class HTCondorExecutor(Executor):
    """Runs UWS jobs as HTCondor jobs through one schedd.

    Jobs held by a person or submitted on hold are HELD until :meth:`release`
    (``JobAction.Release``); jobs held for a system failure are removed
    instead. :meth:`submit_many` submits one itemdata cluster.

    Parameters
    ----------
    settings
        Where the schedd is and how jobs are shaped (:class:`HTCondorSettings`).
    service
        This service instance's tag (``JobSpec.service``): only jobs carrying it
        are ever queried, reconciled or listed as orphans.
    schedd
        The schedd interface; default: the real schedd in a helper process.
    clock
        Monotonic clock (seconds), replaceable in tests.
    job_root
        The directory of the job directories, when the caller knows it: checked at
        start-up against HTCondor's scratch mounts (otherwise at the first submission).
    """

    name = "htcondor"
    can_hold = True
    supports_bulk_submit = True

    def __init__(
        self,
        settings: HTCondorSettings | None = None,
        *,
        service: str = "uws-server",
        schedd: ScheddAPI | None = None,
        clock: object = time.monotonic,
        job_root: Path | None = None,
    ) -> None:
        self.settings = settings or HTCondorSettings()
        self.service = service
        self._schedd: ScheddAPI = schedd or ChildProcessSchedd.for_settings(self.settings)
        self._clock = clock
        self._ads: dict[str, Ad] = {}
        self._reconciled_at: float | None = None
        self._removing: set[str] = set()
        self._retrieved: set[str] = set()
        self._scratch = scratch.configured()
        self._scratch_checked: set[str] = set()
        root = None if job_root is None else str(Path(job_root).resolve())
        if root is not None:
            self._scratch_checked.add(f"root:{root}")
        for message in scratch.warnings(self._scratch, interpreter=sys.executable,
                                        job_root=root,
                                        shared=self.settings.file_mode == "shared"):
            log.warning(message)

    def _check_scratch(self, spec: JobSpec) -> None:
        """Say once per job root and per program when jobs will not see them (scratch mounts)."""
        job_root = str(spec.workdir.parent)
        program = spec.argv[0] if spec.argv else ""
        new = {f"root:{job_root}", f"exe:{program}"} - self._scratch_checked
        if not new:
            return
        self._scratch_checked |= new
        transferred = self.settings.file_mode == "transfer" and (
            program.startswith(str(spec.workdir) + "/")
        )
        for message in scratch.warnings(
            self._scratch,
            job_root=job_root if f"root:{job_root}" in new else None,
            executable=None if transferred or f"exe:{program}" not in new else program,
            shared=self.settings.file_mode == "shared",
        ):
            log.warning(message)

    # -- submission ---------------------------------------------------------------

    def free_slots(self) -> int:
        """HTCondor queues whatever it is given: the configured idle-job budget."""
        return self.settings.max_idle_jobs

    def submit(self, spec: JobSpec, token: str) -> Submission:
        """Submit one job tagged with its UWS id and ``token``.

        When the schedd call fails transiently (it may have accepted the job
        before the reply was lost), the job is looked up by token before the
        error is passed on, so a lost reply never leads to a second job.
        """
        self._check_service(spec)
        self._check_scratch(spec)
        description = build_description(spec, token, self.settings)
        check_expansion(description)
        log.info("submitting UWS job %s to HTCondor:\n%s", spec.job_id, description)
        try:
            cluster = self._schedd.submit(description.commands, 1, None)
        except ExecutorError as exc:
            adopted = self._adopt_after(_scrubbed(exc, [spec]), spec.job_id, token)
            return Submission(adopted)
        return Submission(f"{cluster}.0")

    def submit_many(self, specs: Sequence[JobSpec], tokens: Sequence[str]) -> list[Submission]:
        """Submit jobs of one type as ONE cluster (itemdata), in the order of ``specs``.

        On a transient failure, the jobs the schedd did accept are adopted
        (found by token) if all of them are; otherwise the error is raised and
        the dispatcher calls :meth:`find` for each job before resubmitting it.
        """
        if len(specs) == 1:
            return [self.submit(specs[0], tokens[0])]
        for spec in specs:
            self._check_service(spec)
            self._check_scratch(spec)
        description = build_bulk_description(specs, tokens, self.settings)
        check_expansion(description)
        log.info("submitting %d UWS jobs to HTCondor as one cluster:\n%s", len(specs), description)
        try:
            cluster = self._schedd.submit(description.commands, 0, description.items)
        except ExecutorError as raw:
            exc = _scrubbed(raw, specs)
            if not exc.transient:
                raise exc from None
            found = [self.find(s.job_id, t) for s, t in zip(specs, tokens, strict=True)]
            if all(found):
                return [Submission(f) for f in found if f]
            raise exc from None
        return [Submission(f"{cluster}.{proc}") for proc in range(len(specs))]

    def _check_service(self, spec: JobSpec) -> None:
        check_service(spec, self.service)

    def _adopt_after(self, exc: ExecutorError, job_id: str, token: str) -> str:
        if not exc.transient:
            raise exc
        try:
            found = self.find(job_id, token)
        except ExecutorError:
            raise exc from None
        if found is None:
            raise exc
        log.warning("adopted HTCondor job %s for UWS job %s after: %s", found, job_id, exc)
        return found

    def find(self, job_id: str, token: str) -> str | None:
        """The backend id of the job with this UWS id and token: queue, then history."""
        constraint = (
            f"UwsService == {classad_string(self.service)} && "
            f"UwsJobId == {classad_string(job_id)} && "
            f"UwsSubmitToken == {classad_string(token)}"
        )
        projection = ["ClusterId", "ProcId"]
        ads = self._schedd.query(constraint, projection)
        if not ads:
            ads = self._schedd.history(constraint, projection, 1)
        if not ads:
            return None
        return f"{ads[0]['ClusterId']}.{ads[0]['ProcId']}"

    def find_many(self, wanted: Mapping[str, str]) -> dict[str, str]:
        """:meth:`find` for many jobs: one query of this service's jobs (and of the history)."""
        if not wanted:
            return {}
        service = f"UwsService == {classad_string(self.service)}"
        projection = ["ClusterId", "ProcId", "UwsJobId", "UwsSubmitToken"]
        found: dict[str, str] = {}

        def take(ads: Iterable[Mapping[str, object]]) -> None:
            for ad in ads:
                job_id = ad.get("UwsJobId")
                if (isinstance(job_id, str) and job_id not in found
                        and wanted.get(job_id) == ad.get("UwsSubmitToken")):
                    found[job_id] = f"{ad['ClusterId']}.{ad['ProcId']}"

        take(self._schedd.query(service, projection))
        if len(found) < len(wanted):  # the newest first: the lost submission is recent
            take(self._schedd.history(service, projection, max(100, 4 * len(wanted))))
        return found

    def orphans(self, known_job_ids: Iterable[str]) -> list[str]:
        """Queued jobs tagged by this service whose UWS id is unknown (not yet removed)."""
        known = set(known_job_ids)
        constraint = f"UwsService == {classad_string(self.service)} && JobStatus != 3"
        ads = self._schedd.query(constraint, ["ClusterId", "ProcId", "UwsJobId"])
        return sorted(
            (f"{ad['ClusterId']}.{ad['ProcId']}" for ad in ads if ad.get("UwsJobId") not in known),
            key=lambda bid: tuple(int(p) for p in bid.split(".")),
        )

    # -- control ------------------------------------------------------------------

    def cancel(self, job_id: str, handle: JobHandle) -> None:
        """Remove the job with the service's abort reason (a gone job is fine)."""
        self._schedd.act("Remove", [handle.backend_id], reasons.ABORT_REASON)

    def cancel_many(self, handles: Mapping[str, JobHandle]) -> None:
        """Remove all the jobs in one schedd action (one ``condor_rm``), the abort reason."""
        if handles:
            self._schedd.act("Remove", [h.backend_id for h in handles.values()],
                             reasons.ABORT_REASON)

    def remove_orphan(self, backend_id: str) -> None:
        """Remove a job :meth:`orphans` listed, with the orphan reason (not an abort)."""
        self._schedd.act("Remove", [backend_id], reasons.ORPHAN_REASON)

    def release(self, job_id: str, handle: JobHandle) -> None:
        """Release a held job (``JobAction.Release``) so that it may be matched again.

        A job that is no longer held or queued is left alone (the schedd counts
        it as a bad status or not found). A release the schedd refuses
        (permission denied) or fails is a permanent error: the job stays held
        and the client may run it again. An unreachable schedd is transient.
        """
        bid = handle.backend_id
        result = self._schedd.act("Release", [bid], reasons.RELEASE_REASON)
        if int(result.get("TotalPermissionDenied") or 0):
            raise ExecutorError(f"the schedd refused to release job {bid}: permission denied",
                                transient=False)
        if int(result.get("TotalError") or 0):
            raise ExecutorError(f"the schedd failed to release job {bid}", transient=False)
        self._ads.pop(bid, None)  # the cached ad says held: never report that again

    def update_duration(self, job_id: str, handle: JobHandle, seconds: int) -> None:
        """Change ``UwsMaxDuration`` live; the ``periodic_remove`` policy reads it."""
        self._schedd.edit([handle.backend_id], reasons.DURATION_ATTR, str(max(0, int(seconds))))

    def close(self) -> None:
        """Stop the schedd helper process."""
        self._schedd.close()

    # -- status -------------------------------------------------------------------

    def poll(self, handles: Mapping[str, JobHandle]) -> dict[str, BackendStatus]:
        """Report on jobs from their event logs, reconciled with the schedd now and then."""
        folds: dict[str, tuple[Fold, str] | None] = {}
        for job_id, handle in handles.items():
            folds[job_id] = None
            if not self.settings.spool:
                path = handle.workdir / EVENT_LOG_NAME
                try:
                    folds[job_id] = read_events(path, handle.backend_id, handle.cursor)
                except Exception as exc:  # one unreadable log must not stop every report
                    log.warning("cannot read event log %s: %s", path, exc)
        self._maybe_reconcile(handles, folds)
        out: dict[str, BackendStatus] = {}
        for job_id, handle in handles.items():
            out[job_id] = self._status(handle, folds[job_id])
        return out

    def _maybe_reconcile(
        self, handles: Mapping[str, JobHandle], folds: Mapping[str, tuple[Fold, str] | None]
    ) -> None:
        now = self._clock()  # type: ignore[operator]
        since = None if self._reconciled_at is None else now - self._reconciled_at
        interval = SPOOL_RECONCILE if self.settings.spool else self.settings.reconcile_interval
        blind = [
            h.backend_id
            for j, h in handles.items()
            if folds[j] is None and h.backend_id not in self._ads
        ]
        due = since is None or since >= interval or (blind and since >= MIN_FORCED_RECONCILE)
        if not due or not handles:
            return
        try:
            self.reconcile(h.backend_id for h in handles.values())
        except ExecutorError as exc:
            log.warning("HTCondor reconciliation failed: %s", exc)
        self._reconciled_at = now

    def reconcile(self, backend_ids: Iterable[str]) -> None:
        """Refresh the cached ads: one queue query, then the history for the rest."""
        wanted = set(backend_ids)
        constraint = f"UwsService == {classad_string(self.service)}"
        queued = self._schedd.query(constraint, PROJECTION)
        ads = {f"{a['ClusterId']}.{a['ProcId']}": a for a in queued}
        gone = sorted(wanted - ads.keys())
        if gone:
            history_constraint = (
                f"UwsService == {classad_string(self.service)} && ("
                + " || ".join(_cluster_constraints(gone))
                + ")"
            )
            for ad in self._schedd.history(history_constraint, PROJECTION, -1):
                key = f"{ad['ClusterId']}.{ad['ProcId']}"
                ads.setdefault(key, {**ad, "_history": True})
        self._ads = {b: ads.get(b, _MISSING) for b in wanted}

    def _status(self, handle: JobHandle, folded: tuple[Fold, str] | None) -> BackendStatus:
        bid = handle.backend_id
        ad = self._ads.get(bid)
        cursor: str | None
        if folded is not None and folded[0].seen:
            fold, cursor = folded
            status = fold_status(fold, cursor)
            if fold.needs_removal:
                self._remove_held(bid, fold.reason or "held")
            if fold.terminal or ad is None or (ad is not _MISSING and not ad.get("_history")):
                return status
        else:
            cursor = handle.cursor
            if ad is None:
                return BackendStatus(BackendState.QUEUED, reason="waiting for news", cursor=cursor)
        if ad is _MISSING:
            return BackendStatus(
                BackendState.UNKNOWN,
                reason=f"job {bid} is in neither queue nor history",
                cursor=cursor,
            )
        status = ad_status(ad, cursor)
        if status.state is BackendState.FAILED and int(ad.get("JobStatus", 0)) == 5:
            self._remove_held(bid, status.reason or "held")
        spooled_done = self.settings.spool and int(ad.get("JobStatus", 0)) == 4
        if spooled_done and not self._retrieve(bid):
            return BackendStatus(BackendState.EXECUTING, reason="retrieving outputs", cursor=cursor)
        return status

    def _remove_held(self, backend_id: str, hold_reason: str) -> None:
        """Remove a job held for a system failure, keeping the hold reason (once)."""
        if backend_id in self._removing:
            return
        try:
            self._schedd.act("Remove", [backend_id], reasons.hold_cleanup_reason(hold_reason))
            self._removing.add(backend_id)
        except ExecutorError as exc:
            log.warning("cannot remove held job %s yet: %s", backend_id, exc)

    def _retrieve(self, backend_id: str) -> bool:
        """Fetch a spooled job's outputs; whether they are in place."""
        if backend_id in self._retrieved:
            return True
        try:
            self._schedd.retrieve([backend_id])
        except ExecutorError as exc:
            log.warning("cannot retrieve outputs of %s yet: %s", backend_id, exc)
            return False
        self._retrieved.add(backend_id)
        return True
