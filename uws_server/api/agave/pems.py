"""``/jobs/v2/{id}/pems``: who else may do what on a job (owner-only writes)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ...errors import InvalidParameter
from ...render import agave_json as render
from .. import http
from ..http import current_identity
from . import bp
from .common import answer, api_url, paging, service
from .jobs import search_or_none


def _body() -> dict[str, Any]:
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return {k: v for k, v in request.form.items()}
    body = http.json_body()
    if not isinstance(body, dict):
        raise InvalidParameter("request body: expected {\"username\", \"permission\"}")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter(f"{name}: required, a string")
    return value.strip()


@bp.get("/<job_id>/pems")
def list_permissions(job_id: str) -> Response:
    """The owner's ALL and every grant (needs READ)."""
    if (found := search_or_none(job_id, "pems")) is not None:
        return found
    limit, offset = paging()
    grants = service().permissions(current_identity(), job_id)[offset:offset + limit]
    return answer([render.permission(api_url(), job_id, g.username, g.permission)
                   for g in grants])


@bp.post("/<job_id>/pems")
def update_permissions(job_id: str) -> Response:
    """``{"username", "permission"}``: set a user's permission (owner or admin)."""
    body = _body()
    grant = service().share(current_identity(), job_id, _text(body, "username"),
                            _text(body, "permission"))
    return answer(render.permission(api_url(), job_id, grant.username, grant.permission),
                  "Permission updated")


@bp.delete("/<job_id>/pems")
def delete_permissions(job_id: str) -> Response:
    """Remove every grant but the owner's (owner or admin)."""
    service().revoke_all(current_identity(), job_id)
    return answer(None, "Permissions removed")


@bp.get("/<job_id>/pems/<username>")
def get_permission(job_id: str, username: str) -> Response:
    """One user's permission (``NONE``: all false), as a list of one entry: agavepy's
    model of this answer (``JobPermissionResponse``) is a list."""
    paging()  # checked as agavepy sends them
    grant = service().permission_of(current_identity(), job_id, username)
    return answer([render.permission(api_url(), job_id, grant.username, grant.permission)])


@bp.post("/<job_id>/pems/<username>")
def update_permission(job_id: str, username: str) -> Response:
    """``{"permission"}`` (a ``username`` in the body must be the one of the path)."""
    body = _body()
    named = body.get("username")
    if named not in (None, "", username):
        raise InvalidParameter(f"username: {named!r} in the body, {username!r} in the path")
    grant = service().share(current_identity(), job_id, username, _text(body, "permission"))
    return answer(render.permission(api_url(), job_id, grant.username, grant.permission),
                  "Permission updated")


@bp.delete("/<job_id>/pems/<username>")
def delete_permission(job_id: str, username: str) -> Response:
    """Remove one user's grant (owner or admin)."""
    service().share(current_identity(), job_id, username, "NONE")
    return answer(None, f"Permissions of {username} removed")
