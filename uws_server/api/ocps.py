"""The Rubin OCPS v1 dialect under ``/api/v1``: what the OCPS CSC talks to.

Thin handlers over :class:`~uws_server.services.jobs.JobService` on the
``ocps`` system job type (the same jobs ``/uws/ocps`` lists). The allow-lists
and other OCPS rules are in :mod:`uws_server.services.ocps`; the job object in
:mod:`uws_server.render.ocps_json`. Every answer is JSON, errors too:
``{"detail": "one line"}`` with the status. See docs/ocps.md.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ..config import Settings
from ..errors import InvalidParameter, JobNotFound, ResourceNotFound
from ..render import ocps_json as render
from ..services import ocps
from ..services.jobs import JobService
from ..services.views import JobView
from . import http
from .errors import detail_door
from .http import current_identity, json_response

bp = Blueprint("ocps", __name__, url_prefix="/api/v1")
detail_door(bp)  # errors are FastAPI's {"detail": ...}, as the original OCPS server answers
TYPE = ocps.JOB_TYPE


def _jobs() -> JobService:
    return http.components().jobs


def _settings() -> Settings:
    return http.settings()


def _api_url() -> str:
    return f"{http.base_url()}/api/v1"


def _get(job_id: str) -> JobView:
    return _jobs().get(current_identity(), TYPE, job_id)


# -- creating -------------------------------------------------------------------------------
@bp.put("/job")
def create_job() -> Response:
    """``PUT /job``: create and start ``replicas`` (default 1) jobs; 200 with the first one."""
    ocps.require_configured(_settings())
    body = http.json_body()  # 400 naming what is wrong: malformed, deep, NUL, not UTF-8
    if body is None:
        raise InvalidParameter("request body: expected a JSON object (malformed or empty JSON)")
    wanted = ocps.parse_request(_settings(), body)
    ids = [_jobs().create(current_identity(), TYPE, wanted.params(), {}).id
           for _ in range(wanted.replicas)]
    doc = render.job_object(_api_url(), _get(ids[0]))
    if wanted.replicas > 1:
        doc["jobIds"] = ids
    return json_response(doc)


# -- reading --------------------------------------------------------------------------------
@bp.get("/job")
def list_jobs() -> Response:
    """``GET /job[?phase=executing]``: job objects, newest first (``phase`` repeatable)."""
    phases = [http.parse_phase("phase", v) for v in request.args.getlist("phase")]
    docs = []
    for entry in _jobs().list(current_identity(), TYPE, phases=phases):
        try:
            docs.append(render.job_object(_api_url(), _get(entry.id)))
        except JobNotFound:  # destroyed meanwhile
            continue
    return json_response(docs)


@bp.get("/job/<job_id>")
def get_job(job_id: str) -> Response:
    """The job object."""
    return json_response(render.job_object(_api_url(), _get(job_id)))


@bp.get("/job/<job_id>/phase")
def get_phase(job_id: str) -> Response:
    """The phase as a JSON string, lower case: ``"executing"``."""
    return json_response(render.phase(_jobs().phase_of(current_identity(), TYPE, job_id).value))


@bp.get("/job/<job_id>/results")
def get_results(job_id: str) -> Response:
    """``[{"id", "uri"}]``."""
    return json_response(render.results(_api_url(), _get(job_id)))


@bp.get("/job/<job_id>/parameters")
def get_parameters(job_id: str) -> Response:
    """``{"command", "environment"}``."""
    return json_response(render.parameters(_get(job_id)))


@bp.get("/job/<job_id>/error")
def get_error(job_id: str) -> Response:
    """The error detail (message and the end of standard error) as a JSON string; 404 if none."""
    job = _get(job_id)
    if not job.error_message:
        raise ResourceNotFound(f"job {job_id} has no error")
    return json_response(job.error_detail or job.error_message)


@bp.get("/job/result/<job_id>/<int:index>")
def get_result(job_id: str, index: int) -> Response:
    """Download result ``index`` (0-based, the order of the job object's ``results``)."""
    jobs = _jobs()
    job = _get(job_id)
    found = render.output_results(job)
    if index >= len(found):
        raise ResourceNotFound(f"job {job_id} has no result {index} (it has {len(found)})")
    result = found[index]
    return http.send_job_file(jobs.storage, job.id, result.path, mime_type=result.mime_type,
                              missing=f"result {index} of job {job_id} is no longer available")


# -- deleting -------------------------------------------------------------------------------
@bp.delete("/job/<job_id>")
def delete_job(job_id: str) -> Response:
    """Abort the job if it is still going, destroy it; 200 with the job as it was last."""
    _get(job_id)  # the answer shows the job: READ is needed too
    job = _jobs().delete(current_identity(), TYPE, job_id, abort_first=True)
    assert job is not None
    return json_response(render.job_object(_api_url(), job))
