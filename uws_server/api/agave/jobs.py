"""``/jobs/v2`` jobs: list and search, submit, get, status, manage, delete, history."""

from __future__ import annotations

from flask import Response, request

from ...errors import InvalidParameter, ResourceNotFound
from ...render import agave_json as render
from ...services.agave import search
from ...services.agave.service import AgaveJob
from ...services.agave.submission import form_request, parse_request
from .. import http
from ..http import current_identity
from . import bp
from .common import answer, api_url, paging, service, uws_url


def job_document(job: AgaveJob) -> dict[str, object]:
    """The Job model of a job read by the service."""
    return render.job_document(api_url(), uws_url(), job.view, version=job.version,
                               executor=job.executor, submit_time=job.submit_time,
                               retries=job.retries, resubmitted_from=job.resubmitted_from,
                               resubmissions=job.resubmissions)


def _listing(terms: list[search.Term]) -> Response:
    limit, offset = paging()
    rows = service().list(current_identity(), terms, limit=limit, offset=offset)
    return answer([render.summary(api_url(), uws_url(), row) for row in rows])


def search_or_none(first: str, second: str) -> Response | None:
    """``/jobs/v2/{attribute}/{value}`` when ``first`` is a job attribute (a search), else
    ``None``: the path is a job's sub-resource (job ids are hex, never attribute names)."""
    if not search.is_attribute(first):
        return None
    term = search.check(search.Term(first, "eq", second))
    pairs = [(k, v) for k, vs in request.args.lists() for v in vs]
    return _listing([term, *search.terms_from_query(pairs)])


@bp.get("")
@bp.get("/")
def list_jobs() -> Response:
    """The caller's jobs (and those shared with them), newest first; ``?attr.op=value``
    terms search (``status.eq=RUNNING``, ``name.like=sweep*``, ``created.after=...``)."""
    pairs = [(k, v) for k, vs in request.args.lists() for v in vs]
    return _listing(search.terms_from_query(pairs))


@bp.get("/<attribute>/<value>")
def search_jobs(attribute: str, value: str) -> Response:
    """``GET /jobs/v2/{attribute}/{value}``: jobs whose attribute equals the value."""
    found = search_or_none(attribute, value)
    if found is None:
        raise ResourceNotFound(f"no such resource: {attribute!r} is neither a searchable "
                               "attribute nor followed by a job resource")
    return found


@bp.post("")
@bp.post("/")
def submit() -> Response:
    """Submit a JobRequest (JSON, or a form with file parts named after inputs): 201 with
    the new job, already queued."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields = [(k, v) for k, vs in request.form.lists() for v in vs]
        wanted = parse_request(form_request(fields), http.uploads())
    else:
        wanted = parse_request(http.json_body())
    job_id = service().submit(current_identity(), wanted)
    return answer(job_document(service().get(current_identity(), job_id)),
                  "Job submitted", 201)


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    """The Job model."""
    return answer(job_document(service().get(current_identity(), job_id)))


@bp.get("/<job_id>/status")
def get_status(job_id: str) -> Response:
    """``{"id", "status", "_links"}``; ``/jobs/v2/{attribute}/status`` is a search."""
    if (found := search_or_none(job_id, "status")) is not None:
        return found
    view = service().view(current_identity(), job_id)
    return answer({"id": view.id, "status": render.status_of(view.phase),
                   "_links": {"self": {"href": f"{api_url()}/{view.id}"}}})


@bp.post("/<job_id>")
def manage(job_id: str) -> Response:
    """``{"action": "stop"}`` aborts the job (200 with it); ``{"action": "resubmit"}``
    creates a new job with the same inputs and parameters (201 with the new job)."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        action = request.form.get("action")
    else:
        body = http.json_body()
        action = body.get("action") if isinstance(body, dict) else None
    if not isinstance(action, str) or action.strip().lower() not in ("stop", "resubmit"):
        raise InvalidParameter(f"action: expected stop or resubmit, got {str(action)[:40]!r}")
    agave, identity = service(), current_identity()
    if action.strip().lower() == "stop":
        agave.stop(identity, job_id)
        return answer(job_document(agave.get(identity, job_id)), "Job stopped")
    new_id = agave.resubmit(identity, job_id)
    return answer(job_document(agave.get(identity, new_id)), f"Job {job_id} resubmitted", 201)


@bp.delete("/<job_id>")
def delete_job(job_id: str) -> Response:
    """Destroy the job (a running one is stopped); its history goes with it."""
    service().delete(current_identity(), job_id)
    return answer(None, f"Job {job_id} deleted")


@bp.get("/<job_id>/history")
def get_history(job_id: str) -> Response:
    """Every event of the job, oldest first, with ``limit``/``offset``."""
    if (found := search_or_none(job_id, "history")) is not None:
        return found
    limit, offset = paging()
    events = service().history(current_identity(), job_id, limit=limit, offset=offset)
    return answer([render.history_entry(event) for event in events])
