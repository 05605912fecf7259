"""The buttons of a job page: run, abort, delete, resubmit, share; and signing out.

Each is one service call with the caller's identity: the services check the
grants (a button the page does not show is refused all the same). Every
action answers 303 to the page that shows its effect.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Response, request, url_for

from ..api.http import components, current_identity, see_other
from ..errors import InvalidParameter
from ..services.views import JobView
from ..storage import JobStorage
from . import bp, browse
from . import session as ui_session

ACTIONS = ("run", "abort", "delete", "resubmit")


@bp.post("/signout")
def signout() -> Response:
    """Forget the browser's session; 303 to the sign-in page."""
    ui_session.sign_out()
    return see_other(url_for("ui.signin_form"))


class StoredUpload:
    """A job's stored input file, handed to a new job as if uploaded again (resubmit)."""

    def __init__(self, storage: JobStorage, job_id: str, relative: str) -> None:
        self.storage, self.job_id, self.relative = storage, job_id, relative
        self.filename: str | None = relative.rsplit("/", 1)[-1]

    def save(self, dst: str) -> None:
        """Copy the stored file (opened without following symlinks) to ``dst``."""
        with self.storage.open_file(self.job_id, self.relative) as source, \
                open(dst, "wb") as target:
            while block := source.read(1024 * 1024):
                target.write(block)
            os.fsync(target.fileno())


def resubmit_request(storage: JobStorage, view: JobView) -> tuple[list[tuple[str, str]],
                                                                   dict[str, list[Any]]]:
    """The parameters (and stored files) that create a job like ``view``, queued at once."""
    params: list[tuple[str, str]] = []
    uploads: dict[str, list[Any]] = {}
    for index, param in enumerate(view.parameters):
        if not param.is_file:
            params.append((param.name, param.value))
        elif param.source_url:
            params.append((param.name, param.source_url))
        else:
            part = f"resubmit-{index}"
            params.append((param.name, f"param:{part}"))
            uploads[part] = [StoredUpload(storage, view.id, param.value)]
    if view.run_id:
        params.append(("RUNID", view.run_id))
    params += [("EXECUTIONDURATION", str(view.execution_duration)), ("PHASE", "RUN")]
    return params, uploads


@bp.post("/jobs/<job_id>/action")
def job_action(job_id: str) -> Response:
    """``action`` = run, abort, delete or resubmit (a new job with the same parameters)."""
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidParameter(f"action: expected one of {', '.join(ACTIONS)}, got "
                               f"{action[:40]!r}")
    identity = current_identity()
    jobs = components().jobs
    type_name = browse().job_type_of(identity, job_id)
    if action == "run":
        jobs.run(identity, type_name, job_id)
    elif action == "abort":
        jobs.abort(identity, type_name, job_id)
    elif action == "delete":
        jobs.delete(identity, type_name, job_id)
        return see_other(url_for("ui.jobs"))
    else:
        params, uploads = resubmit_request(jobs.storage, jobs.get(identity, type_name, job_id))
        created = jobs.create(identity, type_name, params, uploads)
        return see_other(url_for("ui.job", job_id=created.id))
    return see_other(url_for("ui.job", job_id=job_id))


@bp.post("/jobs/<job_id>/share")
def job_share(job_id: str) -> Response:
    """Give ``user`` the ``permission`` (READ, READ_WRITE... or NONE to take it back)."""
    user = request.form.get("user", "").strip()
    permission = request.form.get("permission", "READ").strip()
    if not user:
        raise InvalidParameter("user: whom to share the job with is missing")
    components().grants.share(current_identity(), job_id, user, permission)
    return see_other(url_for("ui.job", job_id=job_id) + "#sharing")
