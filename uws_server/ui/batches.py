"""The batch pages: the caller's batches, and one batch watched as one.

A batch page shows the seven status counts of the batch API (reference 003)
as a bar with text labels, its jobs in set order (paged, filtered by status),
and the two buttons a batch has: abort (every unfinished job) and delete (the
batch and its jobs). Everything goes through
:class:`~uws_server.services.batches.BatchService`, as ``/batches`` does, so a
batch of another user is a 404 here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, render_template, request, url_for

from ..api import http
from ..api.http import components, current_identity, json_response, see_other
from ..errors import InvalidParameter
from ..services.batch_status import STATUSES
from ..services.batches import BatchService, BatchSummary
from . import bp

PER_PAGE = 25
#: Statuses during which the page keeps following the batch.
ACTIVE_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
ACTIONS = ("abort", "delete")


@dataclass(frozen=True)
class Segment:
    """One status of the bar: its count and where it sits (percent of the bar)."""

    status: str
    count: int
    x: float
    width: float


def segments(counts: dict[str, int]) -> list[Segment]:
    """The bar's segments in status order (all seven, zeros with no width)."""
    total = sum(counts.values())
    found, x = [], 0.0
    for status in STATUSES:
        width = 100.0 * counts.get(status, 0) / total if total else 0.0
        found.append(Segment(status, counts.get(status, 0), round(x, 3), round(width, 3)))
        x += width
    return found


def is_active(summary: BatchSummary) -> bool:
    """Whether some job of the batch has not finished yet."""
    return any(summary.counts[s] for s in ACTIVE_STATUSES)


def _service() -> BatchService:
    return components().batches


def _page_number() -> int:
    text = request.args.get("page")
    return http.parse_int("page", text, 1, 1_000_000) if text else 1


@bp.get("/batches")
def batches() -> str:
    """The caller's batches (an admin's: everybody's), newest first, paged."""
    page = _page_number()
    service, identity = _service(), current_identity()
    found = service.list_batches(identity, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE)
    summaries = [service.get(identity, b.id) for b in found[:PER_PAGE]]
    return render_template("ui/batches.html", summaries=summaries, page=page,
                           more=len(found) > PER_PAGE, segments=segments)


def _batch_context(batch_id: str) -> dict[str, Any]:
    service, identity = _service(), current_identity()
    summary = service.get(identity, batch_id)
    status = (request.args.get("status") or "").strip().upper()
    if status and status not in STATUSES:
        raise InvalidParameter(f"status: unknown status {status[:40]!r} (one of "
                               f"{', '.join(STATUSES)})")
    page = _page_number()
    _, jobs = service.jobs_of(identity, batch_id, limit=PER_PAGE,
                              offset=(page - 1) * PER_PAGE, statuses=[status] if status else [])
    total = summary.counts[status] if status else summary.n_submitted
    return {"summary": summary, "batch": summary.batch, "jobs": jobs, "status": status,
            "statuses": STATUSES, "page": page, "pages": max(1, -(-total // PER_PAGE)),
            "total": total, "bar": segments(summary.counts), "active": is_active(summary),
            "may_change": not identity.read_only,
            "query": {k: v for k, v in request.args.items() if v and k != "page"}}


@bp.get("/batches/<batch_id>")
def batch(batch_id: str) -> str:
    """One batch: its status bar, its jobs (paged, by status), abort and delete."""
    return render_template("ui/batch.html", **_batch_context(batch_id))


@bp.get("/batches/<batch_id>/state.json")
def batch_state_json(batch_id: str) -> Response:
    """The bar and the rows of the batch page, rendered, for the page to refresh itself."""
    context = _batch_context(batch_id)
    return json_response({"bar": render_template("ui/_batch_bar.html", **context),
                          "rows": render_template("ui/_batch_rows.html", **context),
                          "actions": render_template("ui/_batch_actions.html", **context),
                          "counts": context["summary"].counts, "active": context["active"]})


@bp.post("/batches/<batch_id>/action")
def batch_action(batch_id: str) -> Response:
    """``action`` = abort (every unfinished job) or delete (the batch and its jobs)."""
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidParameter(f"action: expected abort or delete, got {action[:40]!r}")
    if action == "abort":
        _service().abort(current_identity(), batch_id)
        return see_other(url_for("ui.batch", batch_id=batch_id))
    _service().delete(current_identity(), batch_id)
    return see_other(url_for("ui.batches"))
