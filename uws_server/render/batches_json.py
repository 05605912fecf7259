"""The batch documents of reference 003, field for field (pure functions of the views).

Times are UWS instants (``2026-12-01T13:00:00.000Z``) or ``null``; ``log_id``
is the URL of the job's standard output (``GET`` it to download the log).
"""

from __future__ import annotations

from typing import Any

from ..services.batches import BatchJobView, BatchSummary, BatchView
from ..timeutil import format_utc


def _number(value: float | None) -> int | float | None:
    """A whole number as an int (``2``, not ``2.0``); fractions (a manifest's 0.1) as they are."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def hardware(batch: BatchView) -> dict[str, Any]:
    """``hardware``: ``{filesystems, cpu, memory}`` (memory in MiB)."""
    return {"filesystems": list(batch.filesystems), "cpu": _number(batch.cpu),
            "memory": _number(batch.memory_mib)}


def batch_entry(batch: BatchView) -> dict[str, Any]:
    """One entry of ``GET /batches``."""
    return {"batch_id": batch.id, "tool_id": batch.tool_id, "n_jobs": batch.n_jobs,
            "hardware": hardware(batch), "create_time": format_utc(batch.created)}


def batch_summary(summary: BatchSummary) -> dict[str, Any]:
    """``GET /batches/{batch_id}``: the entry with ``n_submitted`` and ``submitted_jobs``."""
    return {**batch_entry(summary.batch), "n_submitted": summary.n_submitted,
            "submitted_jobs": dict(summary.counts)}


def log_url(batches_url: str, batch: BatchView, job: BatchJobView) -> str:
    """Where the job's log (its standard output) is downloaded."""
    return f"{batches_url}/{batch.id}/jobs/{job.id}/log"


def job_entry(batches_url: str, batch: BatchView, job: BatchJobView) -> dict[str, Any]:
    """A job of a batch (its list entries and ``GET .../jobs/{job_id}`` alike)."""
    return {"job_id": job.id, "log_id": log_url(batches_url, batch, job), "args": job.args,
            "hardware": hardware(batch), "status": job.status, "reason": job.reason,
            "create_time": format_utc(job.creation_time),
            "start_time": format_utc(job.start_time) or None,
            "stop_time": format_utc(job.end_time) or None}
