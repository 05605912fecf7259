"""Refuse to expose an anonymous operator: ``serve`` beyond loopback needs authentication.

Under ``UWS_ANONYMOUS=auto`` with no user and no trusted proxy, anybody who
reaches the port operates the service (registers job types, runs commands).
That is the embedded default on 127.0.0.1; on any other address ``serve``
stops with one line unless told ``--insecure-anonymous``.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import create_engine, inspect, text

from ..config import Settings


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the service on this machine."""
    if host in {"localhost", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _users_exist(url: str) -> bool:
    """Whether the database already holds a user (without migrating or creating it)."""
    if url.startswith("sqlite:///"):
        from pathlib import Path

        if not Path(url.removeprefix("sqlite:///")).exists():
            return False
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("users"):
                return False
            return bool(connection.execute(text("SELECT 1 FROM users LIMIT 1")).first())
    finally:
        engine.dispose()


def exposure_problem(settings: Settings) -> str | None:
    """Why serving these settings would expose an anonymous operator, or ``None``."""
    if is_loopback(settings.host) or settings.anonymous != "auto" \
            or settings.trusted_proxy_header:
        return None
    if _users_exist(settings.effective_database_url):
        return None
    return (f"refusing to serve on {settings.host} with no authentication: anybody reaching "
            "the port could run commands. Add a user (uws-server user add NAME --admin; "
            "uws-server token create NAME), set UWS_TRUSTED_PROXY_HEADER or UWS_ANONYMOUS, "
            "or pass --insecure-anonymous")
