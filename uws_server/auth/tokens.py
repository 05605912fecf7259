"""API tokens: ``uws_<id>_<secret>``, shown once, stored as a SHA-256 of the secret.

The id is public (listed, revoked by it) and finds the row; the secret is 256
random bits, so a fast hash is as safe to store as a slow one and costs nothing
per request. Secrets are compared in constant time and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "uws_"
_TOKEN = re.compile(r"^uws_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ParsedToken:
    """A token split into its public id and its secret."""

    token_id: str
    secret: str


def new_token() -> tuple[str, str, str]:
    """A fresh token: ``(token_id, full token to show once, hash to store)``."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, f"{PREFIX}{token_id}_{secret}", hash_secret(secret)


def parse_token(text: str) -> ParsedToken | None:
    """Split a presented token, or ``None`` when it cannot be one of ours."""
    match = _TOKEN.match(text.strip())
    return ParsedToken(match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, compared in constant time."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
