"""The batch API of reference 003 under ``/batches``, plus creation (docs/batches.md).

Thin handlers over :class:`~uws_server.services.batches.BatchService`; the
documents are in :mod:`uws_server.render.batches_json`. JSON only, errors too:
``{"detail": "one line"}`` like the other JSON doors. A batch of another user
is a 404; admins see every batch.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..render import batches_json as render
from ..services.batches import BatchService
from . import http
from .errors import detail_door
from .http import current_identity, int_value, json_response

bp = Blueprint("batches", __name__, url_prefix="/batches")
detail_door(bp)

#: The longest page of a list.
MAX_LIMIT = 10_000


def _batches() -> BatchService:
    return http.components().batches


def _url() -> str:
    return f"{http.base_url()}/batches"


def _page() -> tuple[int, int]:
    args = http.request_params(include_body=False)
    return (int_value(args, "limit", default=1000, low=1, high=MAX_LIMIT),
            int_value(args, "offset", default=0, low=0, high=2**31 - 1))


@bp.get("")
def list_batches() -> Response:
    """``GET /batches[?limit&offset]``: the caller's batches (admins: all), newest first."""
    limit, offset = _page()
    found = _batches().list_batches(current_identity(), limit=limit, offset=offset)
    return json_response([render.batch_entry(batch) for batch in found])


@bp.post("")
def create_batch() -> Response:
    """``POST /batches``: 201 with the batch, ``Location`` its URL."""
    summary = _batches().create(current_identity(), http.json_body())
    response = json_response(render.batch_summary(summary), 201)
    response.headers["Location"] = f"{_url()}/{summary.batch.id}"
    return response


@bp.delete("")
def delete_batches() -> Response:
    """``DELETE /batches``: every batch of the caller and its jobs (running ones aborted)."""
    count = _batches().delete_all(current_identity())
    return json_response({"deleted": count})


@bp.get("/<batch_id>")
def get_batch(batch_id: str) -> Response:
    """``GET /batches/{batch_id}``: the batch and its jobs' status counts."""
    return json_response(render.batch_summary(_batches().get(current_identity(), batch_id)))


@bp.delete("/<batch_id>")
def delete_batch(batch_id: str) -> Response:
    """``DELETE /batches/{batch_id}``: the batch and its jobs; 204."""
    _batches().delete(current_identity(), batch_id)
    return Response(status=204)


@bp.get("/<batch_id>/jobs")
def list_jobs(batch_id: str) -> Response:
    """``GET /batches/{batch_id}/jobs[?limit&offset&status]``: jobs in set order."""
    limit, offset = _page()
    statuses = [s.strip().upper() for v in request.args.getlist("status")
                for s in v.split(",") if s.strip()]
    batch, jobs = _batches().jobs_of(current_identity(), batch_id, limit=limit,
                                     offset=offset, statuses=statuses)
    return json_response([render.job_entry(_url(), batch, job) for job in jobs])


@bp.get("/<batch_id>/jobs/<job_id>")
def get_job(batch_id: str, job_id: str) -> Response:
    """``GET /batches/{batch_id}/jobs/{job_id}``: one job."""
    batch, job = _batches().job(current_identity(), batch_id, job_id)
    return json_response(render.job_entry(_url(), batch, job))


@bp.get("/<batch_id>/jobs/<job_id>/log")
def get_log(batch_id: str, job_id: str) -> Response:
    """The job's log (its standard output), as ``log_id`` links it; 404 until it runs."""
    _batches().job(current_identity(), batch_id, job_id)  # visibility, membership
    return http.send_job_file(http.components().storage, job_id, "stdout.txt",
                              mime_type="text/plain; charset=utf-8",
                              missing=f"job {job_id} of batch {batch_id} has no log yet")
