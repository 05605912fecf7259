"""Who is using the web interface, and the CSRF token of every form.

A browser signs in with an API token once; the signed session cookie then
holds the token's *id* and its owner's name, never the token itself, and each
page checks that the token is still active (a revoked token signs the browser
out at once). The cookie is ``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the
service is reached over https, scoped to ``/ui``; the API doors never read it
(they authenticate from headers alone, so a cross-site page cannot use a
signed-in browser against them).

Without a session, a page is served to whoever the request's headers name
(``Authorization: Bearer``, the trusted proxy's header, or the anonymous mode),
exactly as the API doors would identify them.

Every state-changing form carries the session's CSRF token (``csrf_token``),
checked on every POST: a request authenticated by an ``Authorization: Bearer``
header is exempt, since no cross-site page can make a browser send one.
"""

from __future__ import annotations

import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask, Request, g, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from ..api.http import components
from ..auth.tokens import parse_token
from ..config import Settings
from ..errors import NotAuthenticated, UWSError
from ..identity import Identity
from ..models import ApiToken, User
from ..timeutil import as_utc, utcnow

COOKIE_NAME = "uws_ui"
COOKIE_PATH = "/ui"
SECRET_FILE = "ui-secret"
#: Session keys: the user's name, the token id they signed in with, the CSRF token.
USER, TOKEN, CSRF = "user", "token", "csrf"


class CsrfRefused(UWSError):
    """A form posted without this session's CSRF token (a cross-site request): 403."""

    status = 403


class UiSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure when this request is https (directly or per ``UWS_BASE_URL``)."""
        return request.is_secure or str(app.config.get("UWS_BASE_URL", "")).startswith("https:")


def secret_key(settings: Settings) -> str:
    """``UWS_UI_SECRET``, or a random key kept under the data directory (made once)."""
    if settings.ui_secret:
        return settings.ui_secret
    path: Path = settings.data_dir / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(48)
    draft = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(draft, path)  # complete or absent, never half-written; the first one wins
    finally:
        draft.unlink()
    return key


def configure(app: Flask, settings: Settings) -> None:
    """Set the session cookie's key and flags on the application."""
    try:
        app.secret_key = secret_key(settings)
    except FileExistsError:  # another worker wrote it between our read and our create
        app.secret_key = (settings.data_dir / SECRET_FILE).read_text().strip()
    app.session_interface = UiSessionInterface()
    app.config.update(SESSION_COOKIE_NAME=COOKIE_NAME, SESSION_COOKIE_PATH=COOKIE_PATH,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.ui_session_hours),
                      UWS_BASE_URL=settings.base_url)


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get(CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF] = token
    return token


def check_csrf(req: Request) -> None:
    """Refuse a POST without the session's CSRF token (unless Bearer-authenticated)."""
    if g.get("ui_via") == "bearer":
        return
    sent = req.form.get("csrf_token", "") or req.headers.get("X-CSRF-Token", "")
    held = session.get(CSRF)
    if not isinstance(held, str) or not sent or not hmac.compare_digest(sent, held):
        raise CsrfRefused("this form's CSRF token is missing or stale: reload the page and "
                          "send it again")


def _session_identity() -> Identity | None:
    """The signed-in user, while the token they signed in with is still active."""
    name, token_id = session.get(USER), session.get(TOKEN)
    if not isinstance(name, str) or not isinstance(token_id, str):
        return None
    parts = components()
    with parts.db.read() as db_session:
        row = db_session.execute(
            select(ApiToken.revoked_at, ApiToken.expires_at).join(User)
            .where(ApiToken.id == token_id, User.name == name)).first()
    if row is None or row.revoked_at is not None or (
            row.expires_at is not None and as_utc(row.expires_at) <= utcnow()):
        session.pop(USER, None)
        session.pop(TOKEN, None)
        return None
    return parts.users.identity_of(name)


def identify() -> Identity:
    """Who is calling a UI page: an ``Authorization`` header, the session's user, else the
    other headers (trusted proxy) or the anonymous mode.

    Sets ``g.uws_identity`` (so that ``api.http.current_identity`` agrees) and
    ``g.ui_via`` (``session``, ``bearer`` or ``headers``). Raises
    :class:`NotAuthenticated` when neither names anybody the service accepts.
    """
    # An explicit Authorization header names the caller even in a signed-in browser.
    identity = None if request.headers.get("Authorization") else _session_identity()
    via = "session"
    if identity is None:
        identity = components().auth.identify(request.headers, request.remote_addr)
        authorization = request.headers.get("Authorization", "")
        via = "bearer" if authorization.strip().lower().startswith("bearer ") else "headers"
    g.uws_identity = identity
    g.ui_via = via
    return identity


def sign_in(token: str) -> Identity:
    """Start a session for the owner of ``token`` (a new CSRF token too).

    Raises
    ------
    NotAuthenticated
        The token is unknown, revoked or expired.
    """
    text = token.strip()
    identity = components().users.identify(text) if text else None
    parsed = parse_token(text)
    if identity is None or parsed is None or identity.name is None:
        raise NotAuthenticated("that token is not valid (unknown, revoked or expired)")
    session.clear()
    session.permanent = True
    session[USER] = identity.name
    session[TOKEN] = parsed.token_id
    session[CSRF] = secrets.token_urlsafe(32)
    g.uws_identity = identity
    g.ui_via = "session"
    return identity


def sign_out() -> None:
    """Forget the session (the next page asks for a token again, unless a proxy names you)."""
    session.clear()
