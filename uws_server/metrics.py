"""Prometheus metrics: what the service counts, and where the counts live.

Every metric of the service is defined here, once, with labels, so that any
module may count without knowing how the numbers are exported:

- :data:`HTTP_REQUESTS`, :data:`HTTP_SECONDS`: requests by route *template*
  (the Flask rule, ``/uws/<jobtype>/<job_id>``: never the raw path, whose
  values would be unbounded), method and status; latency histograms.
- :data:`JOB_QUEUE_SECONDS`, :data:`JOB_RUN_SECONDS`: time from QUEUED to
  EXECUTING and from EXECUTING to a final phase, by job type (observed once the
  phase change commits, :func:`observe_phase_change`).
- :data:`DISPATCHER_TICK_SECONDS`, :data:`SUBMISSIONS`, :data:`BACKEND_FAILURES`:
  the dispatcher's loop, by backend.
- :data:`WAIT_BLOCKED`: blocking ``WAIT`` requests now held, by job type.
- :data:`WEBHOOK_DELIVERIES`: webhook delivery attempts by outcome, incremented by
  the sender (:mod:`uws_server.dispatch.webhooks`): ``delivered``, ``retry`` (failed,
  to be tried again), ``expired`` (given up), ``refused`` (the URL guard said no).
- Jobs by phase and type are not kept here: ``/metrics`` computes them at
  scrape time with one grouped query (:mod:`uws_server.api.metrics`).

Under gunicorn each worker is a process of its own; the counts of all of them
are kept in memory-mapped files under ``PROMETHEUS_MULTIPROC_DIR``
(:func:`use_multiprocess`, one directory per role and host under the run
directory) and summed at scrape time. Every metric has labels, so that its
values are created after :func:`use_multiprocess` chose where they live,
whatever was imported first.
"""

from __future__ import annotations

import os
import shutil
import socket
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram, values

from .timeutil import as_utc

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Request latency buckets, seconds: most answers are a few milliseconds; WAIT up to a minute.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0)
#: Job time buckets, seconds: from a second to a day.
JOB_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0,
               86400.0)

HTTP_REQUESTS = Counter("uws_http_requests", "HTTP requests answered, by route template, "
                        "method and status", ["route", "method", "status"])
HTTP_SECONDS = Histogram("uws_http_request_duration_seconds", "Time to answer an HTTP request "
                         "(WAIT included), by route template and method", ["route", "method"],
                         buckets=LATENCY_BUCKETS)
JOB_QUEUE_SECONDS = Histogram("uws_job_queue_seconds", "Time a job waited in QUEUED before it "
                              "started EXECUTING, by job type", ["job_type"],
                              buckets=JOB_BUCKETS)
JOB_RUN_SECONDS = Histogram("uws_job_run_seconds", "Time a job spent from its start to its end, "
                            "by job type and final phase", ["job_type", "phase"],
                            buckets=JOB_BUCKETS)
DISPATCHER_TICK_SECONDS = Histogram("uws_dispatcher_tick_seconds", "Duration of one dispatcher "
                                    "tick while it holds the lease, by backend", ["backend"],
                                    buckets=LATENCY_BUCKETS)
SUBMISSIONS = Counter("uws_dispatcher_submissions", "Submissions to a backend, by backend and "
                      "outcome (submitted, retry: a transient failure, refused: the job ends "
                      "in ERROR)", ["backend", "outcome"])
BACKEND_FAILURES = Counter("uws_backend_failures", "Calls to a backend that failed, by backend "
                           "and operation", ["backend", "operation"])
WAIT_BLOCKED = Gauge("uws_wait_blocked", "Blocking WAIT requests held now, by job type",
                     ["job_type"], multiprocess_mode="livesum")
WEBHOOK_DELIVERIES = Counter("uws_webhook_deliveries", "Webhook deliveries, by outcome",
                             ["outcome"])

_PENDING = "uws_metrics_pending"


def multiprocess_root(settings: Settings) -> Path:
    """Where every process of this data directory keeps its metric files."""
    return settings.run_dir / "metrics"


def use_multiprocess(settings: Settings, role: str, *, fresh: bool) -> Path:
    """Keep this process's metrics in files, under ``<run>/metrics/<role>-<host>``.

    ``fresh`` empties the directory first: the process that starts a
    deployment's processes of that role (gunicorn's master, ``serve``, the
    worker) calls it once, before any of them counts. Its children inherit
    ``PROMETHEUS_MULTIPROC_DIR``. Returns the directory.
    """
    directory = multiprocess_root(settings) / f"{role}-{socket.gethostname()}"
    if fresh and directory.exists():
        shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()
    return directory


def process_ended(pid: int) -> None:
    """gunicorn ``child_exit``: a worker ended; its live gauges no longer count."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _seconds(start: datetime | None, end: datetime) -> float | None:
    if start is None:
        return None
    return max(0.0, (as_utc(end) - as_utc(start)).total_seconds())


def observe_phase_change(session: Session, job_id: str, job_type: str, old: str, new: str,
                         start: datetime | None, now: datetime) -> None:
    """Remember a phase change's durations; they are observed when the transaction commits.

    Entering EXECUTING observes the time since the job last entered QUEUED (one
    indexed query of its events); entering a final phase from a running one
    observes the run time since ``start``. A transaction rolled back observes nothing.
    """
    if new == "EXECUTING" and old == "QUEUED":
        from sqlalchemy import func, select

        from .models import JobEvent

        queued = session.scalar(select(func.max(JobEvent.at)).where(
            JobEvent.job_id == job_id, JobEvent.to_phase == "QUEUED"))
        waited = _seconds(queued, now)
        if waited is not None:
            session.info.setdefault(_PENDING, []).append((JOB_QUEUE_SECONDS, (job_type,), waited))
    elif new in {"COMPLETED", "ERROR", "ABORTED"} and old in {"EXECUTING", "SUSPENDED",
                                                               "HELD"}:
        ran = _seconds(start, now)
        if ran is not None:
            session.info.setdefault(_PENDING, []).append((JOB_RUN_SECONDS, (job_type, new), ran))


def committed(session: Session) -> None:
    """Observe what the committed transaction remembered (:func:`observe_phase_change`)."""
    for histogram, labels, seconds in session.info.pop(_PENDING, ()):
        histogram.labels(*labels).observe(seconds)


def rolled_back(session: Session) -> None:
    """Forget what a rolled-back transaction remembered."""
    session.info.pop(_PENDING, None)


def _listen() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_rollback", rolled_back)


_listen()
