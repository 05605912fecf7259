"""From a request's credentials to an :class:`~uws_server.identity.Identity`.

Accepted, in this order:

1. ``Authorization: Bearer <token>`` or HTTP Basic with the token as the
   password (``curl -u alice:TOKEN``; the user name, if given, must be the
   token's owner);
2. a trusted authenticating proxy's header (``UWS_TRUSTED_PROXY_HEADER``,
   e.g. Gafaelfawr's ``X-Auth-Request-User``), only from the addresses in
   ``UWS_TRUSTED_PROXIES``; from anywhere else the header is ignored;
3. no credentials: anonymous, as ``UWS_ANONYMOUS`` says — ``auto`` (the
   embedded default: an anonymous operator while no user exists and no proxy
   is configured, else 401), ``read``, ``write`` or ``none``.

Nothing here knows Flask: it reads a mapping of headers and the peer address.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
from typing import Protocol

from ..errors import InvalidParameter, NotAuthenticated
from ..identity import ANONYMOUS, ANONYMOUS_READER, UNAUTHENTICATED_OPERATOR, Identity
from .users import UserService, check_user_name

log = logging.getLogger(__name__)

ANONYMOUS_MODES = ("auto", "none", "read", "write")


class HeaderLookup(Protocol):
    """What is read of a request's headers: a dict, or Werkzeug's ``Headers``."""

    def get(self, key: str, /) -> str | None:
        """The header's value, or ``None``."""
        ...


#: The challenges a 401 answers with.
CHALLENGES = ('Bearer realm="uws-server"', 'Basic realm="uws-server"')


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma- or space-separated list of networks (``127.0.0.1/32, ::1``)."""
    items = [part for part in text.replace(",", " ").split() if part]
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


class Authenticator:
    """Turns credentials into identities.

    Parameters
    ----------
    users
        Where tokens and users are looked up.
    anonymous
        One of :data:`ANONYMOUS_MODES`.
    proxy_header
        The header a trusted proxy sets to the user name; empty: no proxy.
    trusted_proxies
        Networks a proxy header is accepted from.
    """

    def __init__(self, users: UserService, *, anonymous: str = "auto", proxy_header: str = "",
                 trusted_proxies: str = "127.0.0.1/32, ::1/128") -> None:
        if anonymous not in ANONYMOUS_MODES:
            raise ValueError(f"anonymous mode {anonymous!r}: expected one of {ANONYMOUS_MODES}")
        self.users = users
        self.anonymous = anonymous
        self.proxy_header = proxy_header.strip()
        self.trusted = parse_networks(trusted_proxies)

    @property
    def configured(self) -> bool:
        """Whether anything but the anonymous-operator default can apply (users or a proxy)."""
        return bool(self.proxy_header) or self.anonymous != "auto" or self.users.any_users()

    def identify(self, headers: HeaderLookup, remote_addr: str | None) -> Identity:
        """Who is calling; raises :class:`NotAuthenticated` for missing or bad credentials."""
        authorization = headers.get("Authorization")
        if authorization is not None:
            return self._from_authorization(authorization)
        if self.proxy_header:
            name = headers.get(self.proxy_header)
            if name is not None and self._trusted(remote_addr):
                try:
                    return self.users.identity_of(check_user_name(name.strip()))
                except InvalidParameter as exc:
                    raise NotAuthenticated(f"{self.proxy_header}: {exc.message}") from None
        return self._anonymous()

    def _anonymous(self) -> Identity:
        if self.anonymous == "write":
            return ANONYMOUS
        if self.anonymous == "read":
            return ANONYMOUS_READER
        if self.anonymous == "auto" and not self.proxy_header and not self.users.any_users():
            return UNAUTHENTICATED_OPERATOR
        raise NotAuthenticated("credentials required: send 'Authorization: Bearer TOKEN' "
                               "(or HTTP Basic with the token as the password)")

    def _from_authorization(self, header: str) -> Identity:
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            if not value:
                raise NotAuthenticated("Authorization: Bearer without a token")
            return self._token(value, None)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise NotAuthenticated("Authorization: malformed Basic credentials") from None
            user, sep, password = decoded.partition(":")
            if not sep or not password:
                raise NotAuthenticated("Authorization: Basic credentials need user:token")
            return self._token(password, user or None)
        if not scheme:
            raise NotAuthenticated("Authorization: empty header")
        raise NotAuthenticated(f"Authorization: unsupported scheme {scheme[:20]!r}; "
                               "use Bearer or Basic")

    def _token(self, token: str, user: str | None) -> Identity:
        identity = self.users.identify(token)
        if identity is None:
            raise NotAuthenticated("invalid, expired or revoked token")
        if user is not None and user != identity.name:
            raise NotAuthenticated("the Basic user name is not the token's owner")
        return identity

    def _trusted(self, remote_addr: str | None) -> bool:
        if not remote_addr:
            return False
        try:
            address = ipaddress.ip_address(remote_addr)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)
