"""Signing webhook deliveries: the service's secret and the ``X-UWS-Signature`` header.

The header is ``t=<unix seconds>,v1=<hex>``, where ``<hex>`` is the
HMAC-SHA256, keyed with the service's secret, of ``<t>.`` followed by the
exact body bytes. A receiver recomputes it with the same secret, compares in
constant time and refuses a ``t`` too far from its clock (replays); see
docs/notifications.md.

The secret is ``UWS_WEBHOOK_SECRET``; when that is empty, one is generated
once and kept in ``<data_dir>/webhook-secret`` (mode 0600), where every
process of the deployment that shares the data directory finds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings

HEADER = "X-UWS-Signature"
SECRET_FILE = "webhook-secret"
#: How far a receiver should let ``t`` be from its own clock, in seconds (documented advice).
TOLERANCE = 300


def secret_path(settings: Settings) -> Path:
    """Where a generated secret is kept."""
    return settings.data_dir / SECRET_FILE


def service_secret(settings: Settings) -> bytes:
    """The key that signs deliveries: ``UWS_WEBHOOK_SECRET``, else the generated one.

    The generated file is written under a temporary name and linked into place,
    so that two processes starting at once agree on one secret and nobody reads
    a half-written file.
    """
    if settings.webhook_secret:
        return settings.webhook_secret.encode("utf-8")
    path = secret_path(settings)
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another process won: use its secret
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_bytes().strip()


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>``."""
    return hmac.new(secret, str(timestamp).encode("ascii") + b"." + body,
                    hashlib.sha256).hexdigest()


def header_value(secret: bytes, body: bytes, *, now: float | None = None) -> str:
    """The ``X-UWS-Signature`` value for ``body`` signed now."""
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: bytes, header: str, body: bytes, *, now: float | None = None,
           tolerance: float = TOLERANCE) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds.

    What a receiver does (written in Python, for the documentation and the tests).
    """
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(fields.get("v1", ""), signature(secret, timestamp, body))
