"""Submitting a job: pick a job type, fill the form its manifest generates, send.

The form posts what a UWS client would (the inputs by name, ``RUNID``,
``EXECUTIONDURATION``, ``PHASE=RUN`` unless "create only" is chosen) to
:meth:`JobService.create`, so the API's rules decide; a refusal re-shows the
form with the values kept and the message next to its field. With the sweep
ticked (:mod:`.sweep`), the form becomes a batch instead, one job per
combination, and the browser goes to the batch's page.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request, url_for

from ..api.http import components, current_identity, see_other
from ..errors import InvalidParameter, JobTypeInactive, PayloadTooLarge, QuotaExceeded
from . import bp, sweep
from .forms import field_of_message, fields_of, submitted


def _form(type_name: str) -> dict[str, Any]:
    found = components().jobs.job_type_for(type_name)
    job_type, settings = found.job_type, components().settings
    return {"type_name": type_name, "title": job_type.title or job_type.name,
            "version": job_type.version, "description": job_type.description,
            "fields": fields_of(found.revision.manifest),
            "default_duration": settings.default_duration, "max_duration": settings.max_duration}


@bp.get("/submit")
def submit_pick() -> str:
    """The job types one may submit to."""
    return render_template("ui/submit_pick.html", names=components().jobs.job_type_names())


@bp.get("/submit/<type_name>")
def submit_form(type_name: str) -> str:
    """The form of one job type, generated from its manifest."""
    return render_template("ui/submit.html", **_form(type_name), values={}, errors={},
                           error=None)


@bp.post("/submit/<type_name>")
def submit(type_name: str) -> Response | tuple[str, int]:
    """Create (and by default run) the job; 303 to its page, or the form with errors."""
    context = _form(type_name)
    params, uploads = submitted(context["fields"], request.form,
                                list(request.files.items(multi=True)))
    if sweep.wanted(request.form):
        return _submit_sweep(type_name, context, uploads)
    if request.form.get("start", "run") == "run":
        params.append(("PHASE", "RUN"))
    try:
        job = components().jobs.create(current_identity(), type_name, params, uploads)
    except (InvalidParameter, PayloadTooLarge, QuotaExceeded, JobTypeInactive) as exc:
        field = field_of_message(context["fields"], exc.message)
        errors = {field: exc.message} if field else {}
        return render_template("ui/submit.html", **context, values=request.form,
                               errors=errors, error=None if field else exc.message), exc.status
    return see_other(url_for("ui.job", job_id=job.id))


def _submit_sweep(type_name: str, context: dict[str, Any], uploads: dict[str, list[Any]]
                  ) -> Response | tuple[str, int]:
    """Create the sweep's batch; 303 to its page, or the form with the error at its field."""
    fields = context["fields"]
    try:
        body = sweep.batch_body(type_name, fields, request.form, uploads)
        summary = components().batches.create(current_identity(), body)
    except sweep.SweepRefused as exc:
        field, message, status = exc.field, exc.message, exc.status
    except (InvalidParameter, PayloadTooLarge, QuotaExceeded, JobTypeInactive) as exc:
        field, message = sweep.sweep_error(fields, sweep.swept(fields, request.form),
                                           exc.message)
        status = exc.status
    else:
        return see_other(url_for("ui.batch", batch_id=summary.batch.id))
    errors = {field: message} if field else {}
    return render_template("ui/submit.html", **context, values=request.form, errors=errors,
                           error=None if field else message), status
