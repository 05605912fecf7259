"""Users and their API tokens: add, list, issue, revoke, and look a token up.

The service owns its transactions, like the job service. Token look-ups are the
hot path of every authenticated request: a validated token is remembered for a
few seconds (``CACHE_SECONDS``), so a revocation reaches other processes within
that time, and ``last_used`` is written at most once a minute per token.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..db import Database
from ..errors import Conflict, InvalidParameter, ResourceNotFound
from ..identity import Identity
from ..models import ApiToken, User
from ..timeutil import as_utc, utcnow
from .tokens import new_token, parse_token, secret_matches

#: How long a validated token is trusted without asking the database again.
CACHE_SECONDS = 10.0
#: How often ``last_used`` is written for a token in steady use.
LAST_USED_EVERY = timedelta(seconds=60)
#: How long "no user exists yet" is believed: while it holds, anonymous callers operate the
#: service (``UWS_ANONYMOUS=auto``), so the first user added elsewhere ends that quickly.
NO_USERS_RECHECK = 0.5
_CACHE_SIZE = 4096
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_GROUP_NAME = _USER_NAME
#: The quota names a user may override (see ``Settings``: ``quota_<name>``).
QUOTA_NAMES = ("active_jobs", "stored_jobs", "upload_bytes_per_job", "upload_bytes_total")


def check_user_name(name: str) -> str:
    """A legal user name, or :class:`InvalidParameter` saying what is allowed."""
    if not isinstance(name, str) or not _USER_NAME.match(name):
        raise InvalidParameter(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' "
                               "or '-', starting with a letter or digit")
    return name


@dataclass(frozen=True)
class UserInfo:
    """A user as the CLI and the admin pages show them."""

    name: str
    is_admin: bool
    groups: tuple[str, ...]
    quotas: dict[str, int]
    created: datetime
    tokens: int


@dataclass(frozen=True)
class TokenInfo:
    """A token's public facts (never its secret)."""

    token_id: str
    user: str
    label: str
    created: datetime
    expires_at: datetime | None
    last_used: datetime | None
    revoked_at: datetime | None

    @property
    def is_active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (self.expires_at is None
                                            or as_utc(self.expires_at) > utcnow())


def _identity(user: User) -> Identity:
    roles = frozenset({"admin"}) if user.is_admin else frozenset()
    return Identity(name=user.name, roles=roles, groups=frozenset(user.groups or ()),
                    quotas=tuple(sorted((user.quotas or {}).items())))


def _token_info(token: ApiToken, user_name: str) -> TokenInfo:
    return TokenInfo(token.id, user_name, token.label, token.created, token.expires_at,
                     token.last_used, token.revoked_at)


class UserService:
    """Users and tokens in the database.

    Parameters
    ----------
    db
        The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: OrderedDict[str, tuple[float, Identity]] = OrderedDict()
        self._lock = threading.Lock()
        self._any_users: tuple[float, bool] = (0.0, False)

    # -- users -------------------------------------------------------------------------
    def add_user(self, name: str, *, admin: bool = False, groups: tuple[str, ...] = ()
                 ) -> UserInfo:
        """Create a user; :class:`Conflict` if the name is taken."""
        check_user_name(name)
        for group in groups:
            if not _GROUP_NAME.match(group):
                raise InvalidParameter(f"group name {group!r}: same rules as user names")
        with self.db.write() as session:
            if session.scalars(select(User.id).where(User.name == name)).first() is not None:
                raise Conflict(f"user {name!r} exists already")
            user = User(name=name, is_admin=admin, groups=sorted(set(groups)), quotas={},
                        created=utcnow())
            session.add(user)
            session.flush()
            info = UserInfo(name, admin, tuple(user.groups), {}, user.created, 0)
        self._any_users = (0.0, False)
        return info

    def get_user(self, name: str) -> UserInfo | None:
        """One user, or ``None``."""
        with self.db.read() as session:
            user = session.scalars(select(User).where(User.name == name)
                                   .options(selectinload(User.tokens))).first()
            if user is None:
                return None
            return UserInfo(user.name, user.is_admin, tuple(user.groups or ()),
                            dict(user.quotas or {}), user.created, len(user.tokens))

    def list_users(self) -> list[UserInfo]:
        """Every user, by name."""
        with self.db.read() as session:
            users = session.scalars(select(User).order_by(User.name)
                                    .options(selectinload(User.tokens))).all()
            return [UserInfo(u.name, u.is_admin, tuple(u.groups or ()), dict(u.quotas or {}),
                             u.created, len(u.tokens)) for u in users]

    def exists(self, name: str) -> bool:
        """Whether a user of that name exists."""
        with self.db.read() as session:
            return session.scalars(select(User.id).where(User.name == name)).first() is not None

    def set_quota(self, name: str, quota: str, value: int | None) -> None:
        """Override one quota for a user (``None`` goes back to the configured default)."""
        if quota not in QUOTA_NAMES:
            raise InvalidParameter(f"quota {quota!r}: expected one of {', '.join(QUOTA_NAMES)}")
        if value is not None and value < 0:
            raise InvalidParameter(f"quota {quota}: must not be negative")
        with self.db.write() as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            if user is None:
                raise ResourceNotFound(f"no user {name!r}")
            quotas = dict(user.quotas or {})
            if value is None:
                quotas.pop(quota, None)
            else:
                quotas[quota] = value
            user.quotas = quotas

    def any_users(self) -> bool:
        """Whether any user exists (asked on every request: a yes is kept, a no re-read often)."""
        checked, answer = self._any_users
        if answer or time.monotonic() - checked < NO_USERS_RECHECK:
            return answer
        with self.db.read() as session:
            answer = (session.scalar(select(func.count()).select_from(User)) or 0) > 0
        self._any_users = (time.monotonic(), answer)
        return answer

    # -- tokens ------------------------------------------------------------------------
    def create_token(self, user_name: str, *, label: str = "", expires_days: float | None = None
                     ) -> tuple[TokenInfo, str]:
        """Issue a token; returns its facts and the token itself, to be shown once."""
        if expires_days is not None and expires_days <= 0:
            raise InvalidParameter("expires: must be a positive number of days")
        if len(label) > 64:
            raise InvalidParameter("token name: at most 64 characters")
        token_id, token, stored = new_token()
        now = utcnow()
        with self.db.write() as session:
            user = session.scalars(select(User).where(User.name == user_name)).first()
            if user is None:
                raise ResourceNotFound(f"no user {user_name!r}")
            row = ApiToken(id=token_id, user_id=user.id, secret_hash=stored, label=label,
                           created=now, expires_at=(now + timedelta(days=expires_days)
                                                    if expires_days is not None else None))
            session.add(row)
            session.flush()
            return _token_info(row, user.name), token

    def list_tokens(self, user_name: str | None = None) -> list[TokenInfo]:
        """Tokens of one user or of everybody, newest first."""
        with self.db.read() as session:
            query = (select(ApiToken, User.name).join(User, ApiToken.user_id == User.id)
                     .order_by(ApiToken.created.desc()))
            if user_name is not None:
                query = query.where(User.name == user_name)
            return [_token_info(token, name) for token, name in session.execute(query)]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token by its id; it stops working at once here, within seconds elsewhere."""
        with self.db.write() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise ResourceNotFound(f"no token {token_id!r}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            info = _token_info(row, row.user.name)
        with self._lock:
            for key in [k for k in self._cache if k.startswith(f"uws_{token_id}_")]:
                del self._cache[key]
        return info

    def identify(self, presented: str) -> Identity | None:
        """The user a token belongs to, or ``None`` (unknown, revoked, expired, malformed)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(presented)
            if hit is not None and hit[0] > now:
                self._cache.move_to_end(presented)
                return hit[1]
        parsed = parse_token(presented)
        if parsed is None:
            return None
        with self.db.read() as session:
            row = session.execute(
                select(ApiToken.secret_hash, ApiToken.expires_at, ApiToken.revoked_at,
                       ApiToken.last_used, User)
                .join(User, ApiToken.user_id == User.id)
                .where(ApiToken.id == parsed.token_id)).first()
            if row is None or not secret_matches(parsed.secret, row.secret_hash):
                return None
            if row.revoked_at is not None or (row.expires_at is not None
                                              and as_utc(row.expires_at) <= utcnow()):
                return None
            identity = _identity(row.User)
            stale = row.last_used is None or utcnow() - as_utc(row.last_used) > LAST_USED_EVERY
        if stale:
            self._touch(parsed.token_id)
        self._remember(presented, identity, now)
        return identity

    def identity_of(self, name: str) -> Identity:
        """The identity of a named user (trusted proxy); a plain user when not registered.

        Remembered like a token for ``CACHE_SECONDS``: the proxy names the user on
        every request.
        """
        key = f"proxy:{name}"
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        with self.db.read() as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            identity = _identity(user) if user is not None else Identity(name=name, quotas=())
        self._remember(key, identity, now)
        return identity

    def _remember(self, key: str, identity: Identity, now: float) -> None:
        with self._lock:
            self._cache[key] = (now + CACHE_SECONDS, identity)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)

    def _touch(self, token_id: str) -> None:
        with self.db.write() as session:
            row = session.get(ApiToken, token_id)
            if row is not None:
                row.last_used = utcnow()
