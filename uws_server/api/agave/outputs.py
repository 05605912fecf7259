"""``/jobs/v2/{id}/outputs``: list a job's output directory and download its files.

Nothing outside the job's ``outputs`` is reachable: ``..``, absolute paths and
symlinks anywhere on the way answer 404 (:mod:`uws_server.services.agave.outputs`
and :meth:`~uws_server.storage.JobStorage.open_file`).
"""

from __future__ import annotations

import mimetypes

from flask import Response

from ...render import agave_json as render
from ...services.agave.outputs import OUTPUTS, clean_path
from .. import http
from ..http import current_identity
from . import bp
from .common import answer, api_url, paging, service


@bp.get("/<job_id>/outputs/listings/<path:sub>")
def list_outputs(job_id: str, sub: str = "") -> Response:
    """The files and directories at ``sub`` of the job's outputs (so far, while it runs)."""
    limit, offset = paging()
    entries = service().outputs(current_identity(), job_id, sub, limit=limit, offset=offset)
    return answer([render.output_file(api_url(), job_id, entry) for entry in entries])


@bp.get("/<job_id>/outputs/listings/")
def list_outputs_top(job_id: str) -> Response:
    """The top of the job's outputs (also without the trailing slash)."""
    return list_outputs(job_id)


bp.add_url_rule("/<job_id>/outputs/listings", endpoint="list_outputs_top_noslash",
                view_func=list_outputs_top, methods=["GET"])


@bp.get("/<job_id>/outputs/media/<path:sub>")
def download_output(job_id: str, sub: str) -> Response:
    """One output file, with ``Range`` (206), ``Content-Length`` and ``Content-Disposition``."""
    agave = service()
    agave.view(current_identity(), job_id)  # READ, or 404/403
    relative = "/".join([OUTPUTS, *clean_path(sub)])
    mime = mimetypes.guess_type(sub)[0]
    return http.send_job_file(agave.storage, job_id, relative, mime_type=mime,
                              missing=f"job {job_id} has no output file {sub!r}")
