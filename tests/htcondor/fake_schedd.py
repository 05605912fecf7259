"""An in-memory schedd for tests and demonstrations, no daemons needed.

:class:`FakeSchedd` implements :class:`~.schedd.ScheddAPI` with a queue and a
history of plain ads, evaluates constraints and the duration policy with the
real ``classad2`` library, writes real event-log lines (HTCondor's classic
format, read back by ``htcondor2.JobEventLog``) into each job's ``log``, and
can be told to fail before or after accepting a submission, or to hang.
Tests drive job lifecycles with :meth:`start`, :meth:`terminate`, :meth:`hold`...
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from uws_server.executors.base import ExecutorError

Ad = dict[str, Any]
Failure = Literal["before_accept", "after_accept"]

_HOST = "<10.0.0.2:9618?addrs=10.0.0.2-9618&alias=ep.example.org>"
_USAGE = (
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Remote Usage",
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Run Local Usage",
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Remote Usage",
    "\t\tUsr 0 00:00:00, Sys 0 00:00:00  -  Total Local Usage",
    "\t0  -  Run Bytes Sent By Job",
    "\t0  -  Run Bytes Received By Job",
    "\t0  -  Total Bytes Sent By Job",
    "\t0  -  Total Bytes Received By Job",
)


def event_text(code: int, backend_id: str, when: float, lines: Sequence[str]) -> str:
    """One event in HTCondor's classic event-log format (``...`` terminated)."""
    cluster, _, proc = backend_id.partition(".")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))
    head = f"{code:03d} ({int(cluster):03d}.{int(proc):03d}.000) {stamp} {lines[0]}"
    return "\n".join([head, *lines[1:], "...", ""])


def _unescape(value: str) -> str:
    return value.replace("$$(DOLLARDOLLAR)", "$$").replace("$(DOLLAR)", "$")


def _literal(value: str) -> Any:
    import classad2

    return classad2.ExprTree(value).eval()


class FakeSchedd:
    """A schedd in memory. Attributes ``fail_next``/``hang_seconds``/``denied`` inject faults.

    ``denied`` names actions (``"Release"``...) the schedd refuses with
    ``TotalPermissionDenied``, as it does for a job held by somebody else.
    """

    def __init__(
        self, *, write_events: bool = True, hang_seconds: float = 0.0, first_cluster: int = 100
    ) -> None:
        self.queue: dict[str, Ad] = {}
        self.history_ads: list[Ad] = []
        self.write_events = write_events
        self.hang_seconds = hang_seconds
        self.fail_next: Failure | None = None
        self.calls: list[str] = []
        self.retrieved: list[str] = []
        self.denied: set[str] = set()
        self._clusters = itertools.count(first_cluster)

    # -- ScheddAPI ---------------------------------------------------------------

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        if self.hang_seconds:
            time.sleep(self.hang_seconds)

    def query(self, constraint: str, projection: Sequence[str]) -> list[Ad]:
        """Queued ads matching ``constraint`` (a real ClassAd expression)."""
        self._enter("query")
        found = [ad for ad in self.queue.values() if _match(ad, constraint)]
        return [self._project(ad, projection) for ad in found]

    def history(self, constraint: str, projection: Sequence[str], match: int) -> list[Ad]:
        """History ads matching ``constraint``, newest first."""
        self._enter("history")
        found = [ad for ad in reversed(self.history_ads) if _match(ad, constraint)]
        if match >= 0:
            found = found[:match]
        return [self._project(ad, projection) for ad in found]

    def submit(
        self, commands: Mapping[str, str], count: int, itemdata: list[dict[str, str]] | None
    ) -> int:
        """Queue one cluster; ``fail_next`` makes it fail before or after accepting."""
        self._enter("submit")
        failure, self.fail_next = self.fail_next, None
        if failure == "before_accept":
            raise ExecutorError("fake schedd: connection refused", transient=True)
        cluster = next(self._clusters)
        items = itemdata or [{} for _ in range(max(1, count))]
        for proc, item in enumerate(items):
            ad = self._job_ad(commands, item, cluster, proc)
            self.queue[ad["_id"]] = ad
            self._event(ad, 0, ["Job submitted from host: <10.0.0.1:9618>", f"    {ad['_notes']}"])
        if failure == "after_accept":
            raise ExecutorError("fake schedd: connection lost before the reply", transient=True)
        return cluster

    def act(self, action: str, job_ids: Sequence[str], reason: str) -> Ad:
        """``Remove`` or ``Release``, counted by outcome as the real schedd answers."""
        self._enter("act")
        if action not in ("Remove", "Release"):
            raise ValueError(f"fake schedd does not implement {action}")
        totals = dict.fromkeys(("TotalSuccess", "TotalNotFound", "TotalBadStatus",
                                "TotalPermissionDenied", "TotalError"), 0)
        for job_id in job_ids:
            if job_id not in self.queue:
                totals["TotalNotFound"] += 1
            elif action in self.denied:
                totals["TotalPermissionDenied"] += 1
            elif action == "Remove":
                self.remove(job_id, reason)
                totals["TotalSuccess"] += 1
            elif self.queue[job_id]["JobStatus"] != 5:
                totals["TotalBadStatus"] += 1  # releasing a job that is not held
            else:
                self.release(job_id, reason)
                totals["TotalSuccess"] += 1
        return {**totals, "TotalJobAds": len(job_ids)}

    def edit(self, job_ids: Sequence[str], attr: str, value: str) -> None:
        """Set an attribute of queued jobs (value is a ClassAd literal)."""
        self._enter("edit")
        for job_id in job_ids:
            if job_id not in self.queue:
                raise ExecutorError(f"fake schedd: no job {job_id}", transient=False)
            self.queue[job_id][attr] = _literal(value)

    def retrieve(self, job_ids: Sequence[str]) -> None:
        """Record a retrieval of spooled outputs."""
        self._enter("retrieve")
        self.retrieved.extend(job_ids)

    def close(self) -> None:
        """Nothing to let go of: the fake lives in this process."""

    # -- driving jobs -------------------------------------------------------------

    def start(self, job_id: str, when: float | None = None) -> None:
        """The job starts running (001)."""
        now = time.time() if when is None else when
        ad = self.queue[job_id]
        ad.update(JobStatus=2, JobCurrentStartDate=int(now), EnteredCurrentStatus=int(now))
        ad.setdefault("JobStartDate", int(now))
        self._event(ad, 1, [f"Job executing on host: {_HOST}"], now)

    def terminate(self, job_id: str, exit_code: int = 0, signal: int | None = None) -> None:
        """The job ends (005) and leaves the queue for the history."""
        ad = self.queue.pop(job_id)
        now = time.time()
        if signal is None:
            line = f"\t(1) Normal termination (return value {exit_code})"
            ad.update(ExitBySignal=False, ExitCode=exit_code)
        else:
            line = f"\t(0) Abnormal termination (signal {signal})\n\t(0) No core file"
            ad.update(ExitBySignal=True, ExitSignal=signal)
        ad.update(JobStatus=4, CompletionDate=int(now), EnteredCurrentStatus=int(now))
        self._event(ad, 5, ["Job terminated.", line, *_USAGE], now)
        self.history_ads.append(ad)

    def hold(self, job_id: str, code: int, reason: str, subcode: int = 0) -> None:
        """The job is held (012) with a HoldReasonCode."""
        ad = self.queue[job_id]
        ad.update(JobStatus=5, HoldReasonCode=code, HoldReason=reason)
        ad.update(EnteredCurrentStatus=int(time.time()))
        self._event(ad, 12, ["Job was held.", f"\t{reason}", f"\tCode {code} Subcode {subcode}"])

    def release(self, job_id: str, reason: str = "via condor_release") -> None:
        """The job is released (013): idle again, its hold reason moved to ``LastHoldReason``."""
        ad = self.queue[job_id]
        ad["LastHoldReason"] = ad.pop("HoldReason", None)
        ad["LastHoldReasonCode"] = ad.pop("HoldReasonCode", None)
        ad.update(JobStatus=1, ReleaseReason=reason, EnteredCurrentStatus=int(time.time()))
        self._event(ad, 13, ["Job was released.", f"\t{reason} (by user uws)"])

    def suspend(self, job_id: str) -> None:
        """The job is suspended (010)."""
        self.queue[job_id].update(JobStatus=7)
        lines = ["Job was suspended.", "\tNumber of processes actually suspended: 1"]
        self._event(self.queue[job_id], 10, lines)

    def unsuspend(self, job_id: str) -> None:
        """The job resumes (011)."""
        self.queue[job_id].update(JobStatus=2)
        self._event(self.queue[job_id], 11, ["Job was unsuspended."])

    def remove(self, job_id: str, reason: str) -> None:
        """The job is removed (009) and goes to the history."""
        ad = self.queue.pop(job_id)
        ad.update(JobStatus=3, RemoveReason=reason, EnteredCurrentStatus=int(time.time()))
        self._event(ad, 9, ["Job was aborted.", f"\t{reason}"])
        self.history_ads.append(ad)

    def vanish(self, job_id: str) -> None:
        """Forget a job entirely (queue and history), as history rotation would."""
        self.queue.pop(job_id, None)
        self.history_ads = [ad for ad in self.history_ads if ad["_id"] != job_id]

    def tick(self, now: float | None = None) -> list[str]:
        """Evaluate every queued job's ``periodic_remove``; remove those it selects."""
        import classad2

        removed = []
        for job_id, ad in list(self.queue.items()):
            expr = ad.get("_periodic_remove")
            if not expr:
                continue
            classad = classad2.ClassAd({k: v for k, v in ad.items() if not k.startswith("_")})
            if now is not None:
                expr = expr.replace("time()", str(int(now)))
            classad["PeriodicRemove"] = classad2.ExprTree(expr)
            if classad.eval("PeriodicRemove") is True:
                self.remove(job_id, ad.get("PeriodicRemoveReason") or "PeriodicRemove")
                removed.append(job_id)
        return removed

    # -- internals ----------------------------------------------------------------

    def _job_ad(
        self, commands: Mapping[str, str], item: Mapping[str, str], cluster: int, proc: int
    ) -> Ad:
        def value(key: str) -> str | None:
            raw = commands.get(key)
            if raw is None:
                return None
            if raw.startswith("$(") and raw.endswith(")") and raw[2:-1] in item:
                raw = item[raw[2:-1]]
            return _unescape(raw)

        ad: Ad = {"_id": f"{cluster}.{proc}", "ClusterId": cluster, "ProcId": proc, "JobStatus": 1}
        for key in commands:
            if key.startswith("My."):
                ad[key[3:]] = _literal(value(key) or "undefined")
        ad["Arguments"] = value("arguments")
        ad["Environment"] = value("environment")
        ad["_log"] = value("log")
        ad["_notes"] = value("submit_event_user_notes") or ""
        ad["_periodic_remove"] = commands.get("periodic_remove")
        ad["QDate"] = int(time.time())
        return ad

    def _event(self, ad: Ad, code: int, lines: Sequence[str], when: float | None = None) -> None:
        if not self.write_events or not ad.get("_log"):
            return
        text = event_text(code, ad["_id"], time.time() if when is None else when, lines)
        with Path(ad["_log"]).open("a", encoding="utf-8") as handle:
            handle.write(text)

    @staticmethod
    def _project(ad: Ad, projection: Sequence[str]) -> Ad:
        keys = projection or [k for k in ad if not k.startswith("_")]
        return {k: ad[k] for k in keys if k in ad}


def _match(ad: Ad, constraint: str) -> bool:
    import classad2

    plain = {k: v for k, v in ad.items() if not k.startswith("_") and v is not None}
    classad = classad2.ClassAd(plain)
    classad["UwsConstraint"] = classad2.ExprTree(constraint)
    return classad.eval("UwsConstraint") is True


def hanging_schedd(seconds: float) -> FakeSchedd:
    """Factory for :class:`~.schedd.ChildProcessSchedd`: a schedd that never answers in time."""
    return FakeSchedd(write_events=False, hang_seconds=seconds)


def fake_schedd() -> FakeSchedd:
    """Factory for :class:`~.schedd.ChildProcessSchedd`: a prompt, empty fake schedd."""
    return FakeSchedd(write_events=False)
