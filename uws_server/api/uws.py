"""The UWS 1.1 REST binding: one job list per job type at ``/uws/{type}``.

Thin handlers: parse the request, call one :class:`JobService` method, render.
Every state change answers 303 See Other to an absolute URL.
"""

from __future__ import annotations

from flask import Blueprint, Response

from .. import __version__
from ..errors import Conflict, InvalidParameter, ResourceNotFound
from ..render import uws_json, uws_xml
from ..services.jobs import JobService
from ..services.live import live_results
from ..services.views import JobView
from ..services.waiting import Waiter
from ..timeutil import format_utc, parse_utc
from . import http
from .http import (
    current_identity,
    form_value,
    json_response,
    one_value,
    parse_phase,
    request_params,
    see_other,
    text_response,
    uploads,
    values_of,
    wants_json,
)

bp = Blueprint("uws", __name__, url_prefix="/uws")


def _jobs() -> JobService:
    return http.components().jobs


def _list_url(jobtype: str) -> str:
    return f"{http.base_url()}/uws/{jobtype}"


def _job_url(jobtype: str, job_id: str) -> str:
    return f"{_list_url(jobtype)}/{job_id}"


def _stylesheet_url() -> str:
    """The XSLT a browser renders UWS documents with (``static/uws.xsl``)."""
    return f"{http.base_url()}/static/uws.xsl"


def _xml(body: bytes) -> Response:
    """A UWS document with the stylesheet a browser renders it with."""
    return http.xml_response(uws_xml.with_stylesheet(body, _stylesheet_url()))


def _live(jobtype: str, job_id: str) -> JobView:
    """The job, with its growing stdout/stderr among the results while EXECUTING."""
    return live_results(http.components().storage,
                        _jobs().get(current_identity(), jobtype, job_id))


# -- service home and job lists ---------------------------------------------------------
@bp.get("")
@bp.get("/")
def home() -> Response:
    """The job lists this service offers, one per job type (JSON)."""
    names = _jobs().job_type_names()
    return json_response({
        "name": "uws-server",
        "version": "1.1",
        "serverVersion": __version__,
        "jobLists": [{"name": name, "href": _list_url(name)} for name in names],
    })


@bp.get("/<jobtype>")
@bp.get("/<jobtype>/")
def job_list(jobtype: str) -> Response:
    """``GET {jobs}`` with the ``PHASE`` (repeatable), ``AFTER`` and ``LAST`` filters."""
    params = request_params(include_body=False)
    phases = [parse_phase("PHASE", v) for v in values_of(params, "PHASE")]
    after = None
    if (text := one_value(params, "AFTER", required=False)) is not None:
        try:
            after = parse_utc(text)
        except ValueError as exc:
            raise InvalidParameter(f"AFTER: {exc}") from None
    last = None
    if lasts := values_of(params, "LAST"):
        try:
            last = min(int(v) for v in lasts)
        except ValueError:
            raise InvalidParameter(f"LAST: expected a positive integer, got {lasts[0]!r}") from None
        if last <= 0:
            raise InvalidParameter(f"LAST: expected a positive integer, got {last}")
        last = min(last, 2**31 - 1)  # more than any list holds; larger overflows SQL LIMIT
    _jobs().require_job_type(jobtype)
    jobs = _jobs().list(current_identity(), jobtype, phases=phases, after=after, last=last)
    if wants_json():  # streamed as rendered: a whole list in bounded memory
        return Response(uws_json.job_list_chunks(_list_url(jobtype), jobs),
                        content_type=http.JSON_TYPE)
    chunks = uws_xml.job_list_chunks(_list_url(jobtype), jobs)
    return Response(uws_xml.chunks_with_stylesheet(chunks, _stylesheet_url()),
                    content_type=http.XML_TYPE)


@bp.post("/<jobtype>")
@bp.post("/<jobtype>/")
def create_job(jobtype: str) -> Response:
    """``POST {jobs}``: create a job, 303 to it (``PHASE=RUN`` starts it at once)."""
    job = _jobs().create(current_identity(), jobtype, request_params(), uploads(),
                         base_url=http.base_url())
    return see_other(_job_url(jobtype, job.id))


# -- the job ------------------------------------------------------------------------------
@bp.get("/<jobtype>/<job_id>")
def get_job(jobtype: str, job_id: str) -> Response:
    """``GET {job}``, blocking with ``WAIT`` (and ``PHASE``) as UWS §2.2.1.2 says."""
    params = request_params(include_body=False)
    waits = values_of(params, "WAIT")
    if waits:
        try:
            seconds = min(int(v.strip()) for v in waits)
        except ValueError:
            raise InvalidParameter(f"WAIT: expected an integer number of seconds, got "
                                   f"{waits[0]!r}") from None
        text = one_value(params, "PHASE", required=False)
        phase = parse_phase("PHASE", text) if text is not None else None
        waiter: Waiter = http.components().waiter
        shared = waiter.wait(current_identity(), jobtype, job_id, seconds, phase,
                             answer=lambda: _job_response(jobtype, job_id),
                             answer_key=(wants_json(), _list_url(jobtype), _stylesheet_url()))
        if shared is not None:  # one rendering for every request this change woke
            return _copy(shared)
    return _job_response(jobtype, job_id)


def _job_response(jobtype: str, job_id: str) -> Response:
    """The job document, XML or JSON as the client asked."""
    job = _live(jobtype, job_id)
    if wants_json():
        return json_response(uws_json.job_document(_list_url(jobtype), job))
    return _xml(uws_xml.job_document(_list_url(jobtype), job))


def _copy(shared: Response) -> Response:
    """A response of its own for one request, with the body another request rendered."""
    return Response(shared.get_data(), status=shared.status_code,
                    content_type=shared.content_type)


@bp.post("/<jobtype>/<job_id>")
def post_job(jobtype: str, job_id: str) -> Response:
    """``POST {job}``: ``ACTION=DELETE``, ``PHASE=RUN|ABORT`` or parameter updates."""
    outcome = _jobs().apply_control(current_identity(), jobtype, job_id, request_params(),
                                    uploads())
    if outcome == "deleted":
        return see_other(_list_url(jobtype))
    return see_other(_job_url(jobtype, job_id))


@bp.delete("/<jobtype>/<job_id>")
def delete_job(jobtype: str, job_id: str) -> Response:
    """``DELETE {job}``: destroy it, 303 to the job list."""
    _jobs().delete(current_identity(), jobtype, job_id)
    return see_other(_list_url(jobtype))


# -- single-value resources -----------------------------------------------------------------
@bp.get("/<jobtype>/<job_id>/phase")
def get_phase(jobtype: str, job_id: str) -> Response:
    """The phase as one upper-case word."""
    return text_response(_jobs().phase_of(current_identity(), jobtype, job_id).value)


@bp.post("/<jobtype>/<job_id>/phase")
def post_phase(jobtype: str, job_id: str) -> Response:
    """``PHASE=RUN`` or ``PHASE=ABORT``."""
    _jobs().change_phase(current_identity(), jobtype, job_id, form_value("PHASE"))
    return see_other(_job_url(jobtype, job_id))


@bp.get("/<jobtype>/<job_id>/executionduration")
def get_execution_duration(jobtype: str, job_id: str) -> Response:
    """Whole seconds; 0 means unlimited."""
    job = _jobs().get(current_identity(), jobtype, job_id)
    return text_response(str(job.execution_duration))


@bp.post("/<jobtype>/<job_id>/executionduration")
def post_execution_duration(jobtype: str, job_id: str) -> Response:
    """``EXECUTIONDURATION=<seconds>`` (clamped to the service's maximum)."""
    _jobs().set_execution_duration(current_identity(), jobtype, job_id,
                                   form_value("EXECUTIONDURATION"))
    return see_other(_job_url(jobtype, job_id))


@bp.get("/<jobtype>/<job_id>/destruction")
def get_destruction(jobtype: str, job_id: str) -> Response:
    """The destruction instant, or an empty string when there is none."""
    job = _jobs().get(current_identity(), jobtype, job_id)
    return text_response(format_utc(job.destruction_time))


@bp.post("/<jobtype>/<job_id>/destruction")
def post_destruction(jobtype: str, job_id: str) -> Response:
    """``DESTRUCTION=<ISO 8601>`` (clamped to the longest lifetime allowed)."""
    _jobs().set_destruction(current_identity(), jobtype, job_id, form_value("DESTRUCTION"))
    return see_other(_job_url(jobtype, job_id))


@bp.get("/<jobtype>/<job_id>/quote")
def get_quote(jobtype: str, job_id: str) -> Response:
    """The quote, or an empty string: this service does not estimate."""
    job = _jobs().get(current_identity(), jobtype, job_id)
    return text_response(format_utc(job.quote))


@bp.get("/<jobtype>/<job_id>/owner")
def get_owner(jobtype: str, job_id: str) -> Response:
    """The owner's identifier; empty for an anonymous job."""
    job = _jobs().get(current_identity(), jobtype, job_id)
    return text_response(job.owner_id or "")


@bp.get("/<jobtype>/<job_id>/error")
def get_error(jobtype: str, job_id: str) -> Response:
    """The error detail as text; 404 when the job has no error."""
    job = _jobs().get(current_identity(), jobtype, job_id)
    if not job.error_message:
        raise ResourceNotFound(f"job {job_id} has no error")
    return text_response(job.error_detail or job.error_message)


# -- parameters and results ---------------------------------------------------------------
@bp.get("/<jobtype>/<job_id>/parameters")
def get_parameters(jobtype: str, job_id: str) -> Response:
    """``<uws:parameters>``."""
    job = _jobs().get(current_identity(), jobtype, job_id)
    if wants_json():
        return json_response({"parameters": uws_json.parameters(_list_url(jobtype), job)})
    return _xml(uws_xml.parameters_document(_list_url(jobtype), job))


@bp.post("/<jobtype>/<job_id>/parameters")
def post_parameters(jobtype: str, job_id: str) -> Response:
    """Update parameters while PENDING (also takes the job-control parameters)."""
    _jobs().apply_control(current_identity(), jobtype, job_id, request_params(), uploads())
    return see_other(_job_url(jobtype, job_id))


@bp.put("/<jobtype>/<job_id>/parameters/<name>")
def put_parameter(jobtype: str, job_id: str, name: str) -> Response:
    """Set one parameter while PENDING; the body is the value (or a file part)."""
    from flask import request

    files = uploads()
    if files:
        _jobs().update_parameters(current_identity(), jobtype, job_id, [],
                                  {name: [f for fs in files.values() for f in fs]})
    else:
        params = request_params()
        value = one_value(params, name, required=False) if params else None
        if value is None:
            value = request.get_data(as_text=True)
        _jobs().update_parameters(current_identity(), jobtype, job_id, [(name, value)], {})
    return see_other(_job_url(jobtype, job_id))


@bp.get("/<jobtype>/<job_id>/parameters/<name>")
# its own endpoint name: each OpenAPI operation is one endpoint (uws_server/openapi/uws.yaml)
@bp.get("/<jobtype>/<job_id>/parameters/<name>/<int:index>", endpoint="get_parameter_indexed")
def get_parameter(jobtype: str, job_id: str, name: str, index: int = 0) -> Response:
    """One parameter's value: text, or the file's content for a file parameter."""
    jobs = _jobs()
    job = jobs.get(current_identity(), jobtype, job_id)
    same = [p for p in job.parameters if p.name.casefold() == name.casefold()]
    if index >= len(same):
        raise ResourceNotFound(f"job {job_id} has no parameter {name!r}"
                               + (f" number {index}" if index else ""))
    param = same[index]
    if not param.is_file:
        return text_response(param.value)
    if param.source_url and not jobs.storage.resolve(job.id, param.value).is_file():
        # Never a redirect to the client's URL: that would make the service an open redirect.
        if job.phase in ("PENDING", "QUEUED"):
            raise Conflict(f"parameter {name!r} is not fetched yet: the service fetches it "
                           "from its URL when the job runs")
        raise ResourceNotFound(f"the file of parameter {name!r} was never fetched")
    return http.send_job_file(jobs.storage, job.id, param.value, mime_type=None,
                              missing=f"the file of parameter {name!r} is no longer available")


@bp.get("/<jobtype>/<job_id>/results")
def get_results(jobtype: str, job_id: str) -> Response:
    """``<uws:results>`` (while EXECUTING: with the growing stdout and stderr)."""
    job = _live(jobtype, job_id)
    if wants_json():
        return json_response({"results": uws_json.results(_list_url(jobtype), job)})
    return _xml(uws_xml.results_document(_list_url(jobtype), job))


@bp.get("/<jobtype>/<job_id>/results/<result_id>")
def get_result(jobtype: str, job_id: str, result_id: str) -> Response:
    """Download one result; only regular files inside the job's directory are served."""
    jobs = _jobs()
    job = _live(jobtype, job_id)
    result = next((r for r in job.results if r.result_id == result_id), None)
    if result is None:
        raise ResourceNotFound(f"job {job_id} has no result {result_id!r}")
    return http.send_job_file(jobs.storage, job.id, result.path, mime_type=result.mime_type,
                              missing=f"result {result_id!r} of job {job_id} is no longer "
                                      "available")
