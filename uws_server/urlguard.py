"""The SSRF guard: which URLs the service may fetch, and connections that keep to it.

A client names a URL; the service fetches it (job inputs by reference, and
webhooks later). Without a guard, that lets any client read the service's
own API and every internal HTTP service reachable from its host. The rules:

* only ``http`` and ``https``, no credentials in the URL;
* ``UWS_URL_DENY`` (networks and host patterns) is refused whatever else says;
* ``UWS_URL_ALLOW`` (networks and host patterns) is allowed;
* anything else is refused when its address is not a global unicast address:
  loopback, link-local, private, unique-local, CGNAT, multicast, reserved,
  unspecified, in IPv4 and IPv6 forms (``127.1``, ``2130706433``, ``[::1]``,
  ``[::ffff:127.0.0.1]``: embedded IPv4 addresses are judged as IPv4).

Host names are judged on the addresses they resolve to, and the connection is
made to the very address that was checked (no second resolution a DNS
rebinding could answer differently). Every redirect is judged again, and the
whole exchange (connections, redirects and body) has one deadline.
:func:`check_url` decides what can be decided without DNS (at job creation);
:func:`open_url` does the rest and opens the connection.
"""

from __future__ import annotations

import fnmatch
import http.client
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urljoin, urlsplit

from .config import ConfigError

if TYPE_CHECKING:
    from .config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
_NUMERIC_V4 = re.compile(r"[0-9a-fA-FxX.]+")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(ValueError):
    """The guard refuses this URL; the message says why in one line."""


@dataclass(frozen=True)
class UrlPolicy:
    """Networks and host patterns allowed or denied on top of the default refusal.

    Host patterns are shell-style (``*.example.org``), matched case-insensitively
    against the URL's host name as written. Deny wins over allow.
    """

    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    deny_networks: tuple[IPNetwork, ...] = ()
    deny_hosts: tuple[str, ...] = ()

    @classmethod
    def parse(cls, allow: str = "", deny: str = "") -> UrlPolicy:
        """A policy from the two settings' text (comma- or space-separated entries).

        Raises
        ------
        ValueError
            Naming the entry that is neither a network nor a host pattern.
        """
        allow_networks, allow_hosts = _entries(allow, "UWS_URL_ALLOW")
        deny_networks, deny_hosts = _entries(deny, "UWS_URL_DENY")
        return cls(allow_networks, allow_hosts, deny_networks, deny_hosts)

    def refusal(self, host: str, address: IPAddress | None) -> str | None:
        """Why ``host`` (at ``address``, when known) is refused, or None when it is allowed.

        With ``address`` None only the host-pattern rules apply (the name is
        not resolved yet): None then means "not refused so far".
        """
        name = host.lower().rstrip(".")
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.deny_hosts):
            return f"{host} is denied by UWS_URL_DENY"
        if address is not None:
            address = _unwrap(address)
            if any(address in net for net in self.deny_networks if net.version == address.version):
                return f"{address} is denied by UWS_URL_DENY"
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.allow_hosts):
            return None
        if address is None:
            return None
        if any(address in net for net in self.allow_networks if net.version == address.version):
            return None
        kind = _non_global_kind(address)
        if kind is not None:
            return (f"{host} is {address}, a {kind} address (allow it with UWS_URL_ALLOW)"
                    if host != str(address) else
                    f"{address} is a {kind} address (allow it with UWS_URL_ALLOW)")
        return None


@lru_cache(maxsize=8)
def _parsed(allow: str, deny: str) -> UrlPolicy:
    return UrlPolicy.parse(allow, deny)


def url_policy(settings: Settings) -> UrlPolicy:
    """The policy of ``UWS_URL_ALLOW`` and ``UWS_URL_DENY``; ConfigError naming a bad entry."""
    try:
        return _parsed(settings.url_allow, settings.url_deny)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _entries(text: str, setting: str) -> tuple[tuple[IPNetwork, ...], tuple[str, ...]]:
    networks: list[IPNetwork] = []
    hosts: list[str] = []
    for entry in re.split(r"[,\s]+", text.strip()):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if not re.fullmatch(r"[A-Za-z0-9*?.\-_]+", entry):
            raise ValueError(f"{setting}: {entry!r} is neither a network (CIDR) nor a host "
                             "pattern")
        hosts.append(entry.lower().rstrip("."))
    return tuple(networks), tuple(hosts)


def _unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), else itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _non_global_kind(address: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a global unicast one."""
    for kind, test in (("loopback", address.is_loopback), ("link-local", address.is_link_local),
                       ("unspecified", address.is_unspecified),
                       ("multicast", address.is_multicast)):
        if test:
            return kind
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal denotes, in any form the C library takes.

    ``127.1``, ``2130706433``, ``0x7f000001`` and ``0177.0.0.1`` are all
    127.0.0.1 to ``getaddrinfo``; a guard that missed them would be bypassed.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_V4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url(url: str, policy: UrlPolicy) -> SplitResult:
    """What can be judged without DNS: scheme, form, literal addresses, host patterns.

    Returns the split URL. Raises :class:`UrlRefused` saying why.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"only http and https URLs are fetched, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("credentials in a URL are not accepted")
    if port == 0:
        raise UrlRefused("port 0 is not a port")
    reason = policy.refusal(host, literal_address(host))
    if reason is not None:
        raise UrlRefused(reason)
    return parts


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _connect(parts: SplitResult, policy: UrlPolicy, deadline: float
             ) -> tuple[socket.socket, IPAddress]:
    """A socket to an address of the URL's host that the policy allows, checked first."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = literal_address(host)
    if literal is not None:
        candidates: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
        candidates = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in candidates:
                candidates.append(address)
    refusals: list[str] = []
    error: OSError | None = None
    for address in candidates:
        reason = policy.refusal(host, address)
        if reason is not None:
            refusals.append(reason)
            continue
        try:
            sock = socket.create_connection((str(address), port), timeout=_remaining(deadline))
        except OSError as exc:
            error = exc
            continue
        return sock, address
    if error is not None:
        raise error
    raise UrlRefused(refusals[0] if refusals else f"{host} has no address")


class GuardedResponse:
    """An HTTP response whose connection went to a checked address; reads keep the deadline.

    Attributes
    ----------
    status, reason, headers
        Of the final response (after redirects).
    url
        The final URL.
    address
        The address actually connected to.
    """

    def __init__(self, connection: http.client.HTTPConnection, sock: socket.socket,
                 response: http.client.HTTPResponse, url: str, address: IPAddress,
                 deadline: float) -> None:
        self._connection = connection
        self._sock = sock  # http.client forgets it once a "Connection: close" answer began
        self._response = response
        self.status = response.status
        self.reason = response.reason
        self.headers = response.headers
        self.url = url
        self.address = address
        self._deadline = deadline

    def read1(self, size: int = 1 << 16) -> bytes:
        """At most ``size`` bytes from one read; b"" at the end. TimeoutError past the deadline."""
        self._sock.settimeout(_remaining(self._deadline))
        return self._response.read1(size)

    def close(self) -> None:
        """Close the response and its connection."""
        self._response.close()
        self._connection.close()

    def __enter__(self) -> GuardedResponse:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def open_url(url: str, policy: UrlPolicy, *, deadline: float, method: str = "GET",
             body: bytes | None = None, headers: Mapping[str, str] | None = None,
             max_redirects: int = MAX_REDIRECTS) -> GuardedResponse:
    """Open ``url`` under ``policy``, following redirects, all before ``deadline``.

    ``deadline`` is a :func:`time.monotonic` instant that bounds everything:
    resolution aside (the C resolver has its own timeouts), connecting,
    sending, each redirect and every later :meth:`GuardedResponse.read1`.
    Redirects (GET and HEAD only) are judged like the first URL. Proxies from
    the environment are not used: the guard judges the real destination.

    Raises
    ------
    UrlRefused
        The URL, a redirect, or every address of the host is refused.
    TimeoutError
        The deadline passed.
    OSError, http.client.HTTPException
        The server could not be reached or did not speak HTTP.
    """
    current = url
    for _hop in range(max_redirects + 1):
        parts = check_url(current, policy)
        sock, address = _connect(parts, policy, deadline)
        host = parts.hostname or ""
        connection: http.client.HTTPConnection
        try:
            if parts.scheme == "https":
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=host)
                connection = http.client.HTTPSConnection(host, parts.port, context=context,
                                                         timeout=_remaining(deadline))
            else:
                connection = http.client.HTTPConnection(host, parts.port,
                                                        timeout=_remaining(deadline))
        except BaseException:
            sock.close()
            raise
        connection.sock = sock
        try:
            sock.settimeout(_remaining(deadline))
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            request_headers: dict[str, Any] = {"User-Agent": "uws-server",
                                               "Accept-Encoding": "identity"}
            request_headers.update(headers or {})
            connection.request(method, target, body=body, headers=request_headers)
            response = connection.getresponse()
        except BaseException:
            connection.close()
            raise
        location = response.getheader("Location")
        if response.status in REDIRECTS and location and method in ("GET", "HEAD"):
            response.close()
            connection.close()
            current = urljoin(current, location.strip())
            continue
        return GuardedResponse(connection, sock, response, current, address, deadline)
    raise UrlRefused(f"more than {max_redirects} redirects")
