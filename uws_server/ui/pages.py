"""The reading pages: sign-in, the job list, a job, its results and live logs, job types."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from flask import Response, render_template, request, url_for

from ..api import http
from ..api.http import components, current_identity, json_response, see_other
from ..auth.permissions import Permission
from ..auth.policy import permission_on
from ..errors import InvalidParameter, NotAuthenticated, ResourceNotFound
from ..jobtypes.queries import Filters
from ..services.browse import ACTIVE, PHASE_ORDER, JobFilter
from ..services.live import LOG_NAMES, live_results, read_log, text_preview
from ..services.views import JobView
from . import bp, browse, safe_next
from . import session as ui_session

PER_PAGE = 25


# -- signing in -----------------------------------------------------------------------------
@bp.get("/signin")
def signin_form() -> str:
    """The sign-in form (a token; or nothing to do when a trusted proxy names you)."""
    return render_template("ui/signin.html", next=safe_next(request.args.get("next")),
                           error=None)


@bp.post("/signin")
def signin() -> Response | tuple[str, int]:
    """Sign in with a token; 303 to where the browser was going."""
    target = safe_next(request.form.get("next"))
    try:
        ui_session.sign_in(request.form.get("token", ""))
    except NotAuthenticated as exc:
        return render_template("ui/signin.html", next=target, error=exc.message), 401
    return see_other(target)


# -- the job list ---------------------------------------------------------------------------
@bp.get("/")
def index() -> Response:
    """The interface's home is the job list."""
    return see_other(url_for("ui.jobs"))


def _page_number(text: str | None) -> int:
    return http.parse_int("page", text, 1, 1_000_000) if text else 1


def _chosen() -> JobFilter:
    args = request.args
    return JobFilter(owner=args.get("owner") or None, phase=(args.get("phase") or "").upper()
                     or None, job_type=args.get("type") or None,
                     run_id=args.get("run_id") or None)


def _list_context() -> dict[str, Any]:
    identity = current_identity()
    chosen = _chosen()
    page = browse().jobs(identity, chosen, page=_page_number(request.args.get("page")),
                         per_page=PER_PAGE)
    return {"page": page, "chosen": chosen, "phases": PHASE_ORDER,
            "active": any(j.phase in ACTIVE for j in page.jobs),
            "query": {k: v for k, v in request.args.items() if v and k != "page"}}


@bp.get("/jobs")
def jobs() -> str:
    """The caller's jobs (an admin's: anyone's), newest first, filtered and paged."""
    context = _list_context()
    identity = current_identity()
    return render_template("ui/jobs.html", **context,
                           job_types=components().jobs.job_type_names(),
                           owners=browse().owners(identity) if identity.is_admin else [])


@bp.get("/jobs.json")
def jobs_json() -> Response:
    """The list's rows and counts, rendered, for the page to refresh itself."""
    context = _list_context()
    return json_response({
        "rows": render_template("ui/_job_rows.html", **context),
        "counts": render_template("ui/_counts.html", **context),
        "active": context["active"],
    })


# -- one job --------------------------------------------------------------------------------
def _job(job_id: str) -> tuple[JobView, Permission]:
    identity = current_identity()
    type_name = browse().job_type_of(identity, job_id)
    view = live_results(components().storage, components().jobs.get(identity, type_name, job_id))
    return view, permission_on(identity, view.owner_id, view.granted)


def _job_context(job_id: str) -> dict[str, Any]:
    view, held = _job(job_id)
    identity = current_identity()
    steps, backend = browse().timeline(identity, job_id)
    storage = components().storage
    previews = {r.result_id: text_preview(storage, view.id, r) for r in view.results}
    may_share = identity.is_admin or (identity.name is not None
                                      and identity.name == view.owner_id)
    return {"job": view, "can_run": bool(held & Permission.EXECUTE),
            "can_write": bool(held & Permission.WRITE), "steps": steps, "backend": backend,
            "previews": previews, "active": view.phase in ACTIVE, "may_share": may_share,
            "may_create": not identity.read_only,
            "grants": components().grants.list(identity, job_id) if may_share else [],
            "base": http.base_url(), "logs": LOG_NAMES,
            "batch_id": components().batches.batch_of(view.id)}


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> str:
    """One job: phase, timeline, parameters, results, live logs, and what you may do."""
    return render_template("ui/job.html", **_job_context(job_id))


@bp.get("/jobs/<job_id>/state.json")
def job_state_json(job_id: str) -> Response:
    """The parts of the job page that change while it runs, rendered."""
    context = _job_context(job_id)
    return json_response({
        "phase": context["job"].phase,
        "active": context["active"],
        "summary": render_template("ui/_job_summary.html", **context),
        "timeline": render_template("ui/_timeline.html", **context),
        "results": render_template("ui/_results.html", **context),
        "actions": render_template("ui/_actions.html", **context),
    })


@bp.get("/jobs/<job_id>/logs/<name>.json")
def log_json(job_id: str, name: str) -> Response:
    """What a job's stdout or stderr holds from ``offset`` on (the tail when negative)."""
    if name not in LOG_NAMES:
        raise ResourceNotFound(f"no log {name!r}: expected stdout or stderr")
    view, _ = _job(job_id)
    text = request.args.get("offset", "-1")
    try:
        offset = int(text)
    except ValueError:
        raise InvalidParameter(f"offset: expected an integer, got {text[:40]!r}") from None
    chunk = read_log(components().storage, view.id, name, offset)
    return json_response({"offset": chunk.end, "text": chunk.text, "size": chunk.size,
                          "active": view.phase in ACTIVE})


@bp.get("/jobs/<job_id>/results/<result_id>")
def result(job_id: str, result_id: str) -> Response:
    """One result, inline (``?download=1``: as an attachment); it runs no script here."""
    view, _ = _job(job_id)
    found = next((r for r in view.results if r.result_id == result_id), None)
    if found is None:
        raise ResourceNotFound(f"job {job_id} has no result {result_id!r}")
    response = http.send_job_file(components().storage, view.id, found.path,
                                  mime_type=found.mime_type,
                                  missing=f"result {result_id!r} is no longer available")
    if request.args.get("download"):
        name = found.path.rsplit("/", 1)[-1]
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response  # sandboxed by send_job_file's Content-Security-Policy


# -- job types ------------------------------------------------------------------------------
@bp.get("/job-types")
def job_types() -> str:
    """The registry: every job type version, paused or active."""
    types = components().registry.types(Filters(), [])
    return render_template("ui/job_types.html", types=types)


@bp.get("/job-types/<name>/<version>")
def job_type(name: str, version: str) -> str:
    """One job type version: its fields, revisions and manifest."""
    registry = components().registry
    found, revision = registry.details(name, version)
    return render_template("ui/job_type.html", jt=found, revision=revision,
                           revisions=registry.revisions(name, version).items,
                           manifest=json.dumps(revision.manifest, indent=2, sort_keys=True))
