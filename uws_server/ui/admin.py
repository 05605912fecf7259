"""Operator pages: users, tokens and quotas (``auth.users``), the dispatcher's health, and
pausing or activating job types through the registry service. Admins only (403)."""

from __future__ import annotations

from flask import Response, render_template, request, url_for

from ..api.http import components, current_identity, parse_int, see_other
from ..auth.users import QUOTA_NAMES
from ..errors import InvalidParameter, PermissionDenied
from . import bp, browse

#: The job-type state changes the registry page offers, as registry edits.
STATE_CHANGES = {"pause": {"is_paused": True}, "resume": {"is_paused": False},
                 "activate": {"is_active": True}, "deactivate": {"is_active": False}}


def _require_admin() -> None:
    identity = current_identity()
    if not identity.is_admin:
        raise PermissionDenied(f"{identity.label} is not an admin: this page is for operators")


def _admin_page(new_token: str | None = None, status: int = 200) -> tuple[str, int]:
    parts = components()
    settings = parts.settings
    defaults = {name: getattr(settings, f"quota_{name}") for name in QUOTA_NAMES}
    return render_template(
        "ui/admin.html", users=parts.users.list_users(), tokens=parts.users.list_tokens(),
        quota_names=QUOTA_NAMES, defaults=defaults, new_token=new_token,
        leases=browse().leases(settings.lease_seconds), executor=settings.executor), status


@bp.get("/admin")
def admin() -> tuple[str, int]:
    """Users, tokens, quotas and the dispatcher's lease."""
    _require_admin()
    return _admin_page()


@bp.post("/admin/users")
def admin_add_user() -> Response:
    """Create a user (``name``; ``admin`` checked for an operator)."""
    _require_admin()
    components().users.add_user(request.form.get("name", "").strip(),
                                admin=request.form.get("admin") == "on")
    return see_other(url_for("ui.admin"))


@bp.post("/admin/tokens")
def admin_create_token() -> tuple[str, int]:
    """Issue a token for ``user``; the page shows it this once (never again)."""
    _require_admin()
    days_text = request.form.get("expires_days", "").strip()
    try:
        days = float(days_text) if days_text else None
    except ValueError:
        raise InvalidParameter(f"expires: expected a number of days, got {days_text[:20]!r}"
                               ) from None
    _, token = components().users.create_token(request.form.get("user", "").strip(),
                                               label=request.form.get("label", "").strip(),
                                               expires_days=days)
    return _admin_page(new_token=token, status=201)


@bp.post("/admin/tokens/<token_id>/revoke")
def admin_revoke_token(token_id: str) -> Response:
    """Revoke a token at once."""
    _require_admin()
    components().users.revoke_token(token_id)
    return see_other(url_for("ui.admin"))


@bp.post("/admin/quotas")
def admin_set_quota() -> Response:
    """Set one quota of a user (empty value: back to the service's default)."""
    _require_admin()
    text = request.form.get("value", "").strip()
    value = parse_int("value", text, 0, 2**62) if text else None
    components().users.set_quota(request.form.get("user", "").strip(),
                                 request.form.get("quota", ""), value)
    return see_other(url_for("ui.admin"))


@bp.post("/job-types/<name>/<version>")
def job_type_state(name: str, version: str) -> Response:
    """Pause, resume, activate or deactivate a job type version (the registry checks admin)."""
    change = request.form.get("change", "")
    if change not in STATE_CHANGES:
        raise InvalidParameter(f"change: expected one of {', '.join(STATE_CHANGES)}, got "
                               f"{change[:40]!r}")
    components().registry.edit(current_identity(), name, version, STATE_CHANGES[change])
    return see_other(url_for("ui.job_type", name=name, version=version))
