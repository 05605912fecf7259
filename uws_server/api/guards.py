"""Checks at the front door, before any handler runs: what a request may be at all.

- **Path and query string**: UTF-8, without NUL (400): Werkzeug would turn bad
  bytes into U+FFFD or leave ``%FF`` as it is, and PostgreSQL refuses NUL (a 500).
- **Host** (DNS rebinding, forged links): every URL the service writes comes
  from ``UWS_BASE_URL`` or from the request's ``Host``, so only hosts this
  service answers to are accepted (400 naming it): ``UWS_BASE_URL``'s host,
  ``UWS_ALLOWED_HOSTS``, and by default the bind address, ``localhost``,
  ``127.0.0.1`` and ``[::1]`` with the port the request came in on.
- **Origin** (CSRF): a browser names the page's origin on every cross-site
  POST; a state-changing request (POST, PUT, PATCH, DELETE) from an origin
  that is not one of the service's own hosts or ``UWS_ALLOWED_ORIGINS`` is
  refused (403 naming it). Requests without ``Origin`` (curl, pyvo, the OCPS
  CSC) are not browsers' and pass.
- **JSON doors** (``/v6``, ``/api/v1``): a body must be declared JSON (415
  otherwise): a cross-site form can send ``text/plain`` without a preflight,
  never ``application/json``.

See docs/uws.md ("Requests the service refuses at the door") and docs/operations.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from flask import Flask, Response, request
from gunicorn.http.errors import NoMoreData, ParseException

from ..config import Settings
from ..errors import InvalidParameter, UWSError
from .bodies import SafeJSONProvider, StrictRequest, UnsupportedMediaType, not_utf8
from .errors import error_response
from .http import is_json_type

#: Front doors whose bodies are always JSON (the doors ``api.errors.detail_door`` declares).
JSON_DOORS = ("/v6", "/api/v1", "/batches")
#: Unread bodies up to this size are read to the end so that the connection stays usable.
DRAIN_MAX_BYTES = 16 * 1024 * 1024
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_WILDCARDS = frozenset({"", "0.0.0.0", "[::]", "*"})
_HOSTNAME = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?)$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ForbiddenOrigin(UWSError):
    """A state-changing request from a web page of another site (CSRF): 403."""

    status = 403


def split_host(value: str, default_port: int | None = None) -> tuple[str, int | None]:
    """``host[:port]`` → (lower-case host, IPv6 in brackets; port or ``default_port``).

    Raises ``ValueError`` when ``value`` is not a host name or address.
    """
    text = value.strip().lower()
    if text.startswith("["):
        host, _, rest = text.partition("]")
        host += "]"
    elif text.count(":") > 1:  # a bare IPv6 address (the bind setting may be one)
        host, rest = f"[{text}]", ""
    else:
        host, colon, port_text = text.partition(":")
        rest = colon + port_text
    if not _HOSTNAME.match(host) or (rest and not re.fullmatch(r":\d{1,5}", rest)):
        raise ValueError(f"not a host name: {value!r}")
    return host, int(rest[1:]) if rest else default_port


@dataclass(frozen=True)
class HostRules:
    """The hosts and origins this service answers to, from the settings."""

    any_host: bool
    hosts: frozenset[tuple[str, int | None]]  # (host, port); port None: any port
    origins: frozenset[str]  # normalised scheme://host[:port]

    @classmethod
    def from_settings(cls, settings: Settings) -> HostRules:
        """Read ``UWS_ALLOWED_HOSTS``, ``UWS_ALLOWED_ORIGINS``, ``UWS_BASE_URL`` and the bind."""
        entries: set[tuple[str, int | None]] = set()
        any_host = False
        for word in _words(settings.allowed_hosts):
            if word == "*":
                any_host = True
                continue
            entries.add(split_host(word))
        if settings.base_url:
            parts = urlsplit(settings.base_url)
            if parts.hostname:
                entries.add((split_host(parts.netloc.rpartition("@")[2])[0], None))
        names = list(_LOOPBACK_NAMES)
        if settings.host.strip().lower() not in _WILDCARDS and settings.host != "::":
            names.append(split_host(settings.host)[0])
        entries.update((name, settings.port) for name in names)
        origins = frozenset(_origin(word) for word in _words(settings.allowed_origins))
        return cls(any_host, frozenset(entries), origins)

    def host_allowed(self, host: str, port: int | None) -> bool:
        """Whether a (host, port) is one of this service's, also on the address the request
        came in on (gunicorn may bind elsewhere than ``UWS_HOST``/``UWS_PORT`` say)."""
        if (host, None) in self.hosts or (host, port) in self.hosts:
            return True
        server_name, server_port = _server()
        return port == server_port and (host in _LOOPBACK_NAMES or host == server_name)


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,]+", text.strip()) if w]


def _origin(text: str) -> str:
    """``scheme://host[:port]`` in lower case, without the scheme's default port."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"not an origin (scheme://host[:port]): {text!r}")
    host, port = split_host(parts.netloc, _DEFAULT_PORTS[scheme])
    return f"{scheme}://{host}" + ("" if port == _DEFAULT_PORTS[scheme] else f":{port}")


def _wsgi_bytes(name: str) -> bytes:
    """A WSGI environ string as the bytes that came in (PEP 3333: latin-1)."""
    return str(request.environ.get(name, "")).encode("latin-1", "replace")


def check_path_and_query() -> None:
    """400 for a path or query string that is not UTF-8 or holds a NUL."""
    try:
        path = _wsgi_bytes("PATH_INFO").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(exc, "request path") from None
    if "\x00" in path:
        raise InvalidParameter("request path: contains a NUL character")
    raw = _wsgi_bytes("QUERY_STRING")
    if not raw:
        return
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise not_utf8(exc, "query string") from None
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise InvalidParameter(f"{name.replace(chr(0), '') or 'query string'}: contains a "
                                   "NUL character")


def check_host(rules: HostRules) -> tuple[str, int | None] | None:
    """400 unless the ``Host`` header names this service; returns it (``None`` if absent)."""
    header = request.headers.get("Host")
    if header is None:
        return None  # HTTP/1.0: Werkzeug falls back to the server's own address
    try:
        host, port = split_host(header, _DEFAULT_PORTS.get(request.scheme))
    except ValueError:
        raise InvalidParameter(f"Host header: not a host name: {header[:100]!r}") from None
    if rules.any_host or rules.host_allowed(host, port):
        return host, port
    raise InvalidParameter(f"Host {header[:100]!r} is not a name of this service (it answers "
                           "to UWS_BASE_URL's host and UWS_ALLOWED_HOSTS)")


def _server() -> tuple[str | None, int | None]:
    """The address the request came in on (gunicorn: the listening socket's)."""
    name = str(request.environ.get("SERVER_NAME", "")).lower()
    port = str(request.environ.get("SERVER_PORT", ""))
    try:
        host = split_host(name)[0] if name not in _WILDCARDS and name != "::" else None
    except ValueError:
        host = None
    return host, int(port) if port.isdigit() else None


def check_origin(rules: HostRules, own: tuple[str, int | None] | None) -> None:
    """403 for a state-changing request whose ``Origin`` is not this service's."""
    origin = request.headers.get("Origin")
    if origin is None or request.method not in UNSAFE_METHODS:
        return
    refused = ForbiddenOrigin(f"Origin {origin[:100]!r} may not change anything here (allowed: "
                              "this service's own hosts and UWS_ALLOWED_ORIGINS)")
    try:
        normal = _origin(origin)
    except ValueError:  # "null" (sandboxed pages, file://), garbage
        raise refused from None
    if normal in rules.origins:
        return
    parts = urlsplit(normal)
    host, port = split_host(parts.netloc, _DEFAULT_PORTS[parts.scheme])
    if (host, port) == own or rules.host_allowed(host, port):
        return
    raise refused


def check_json_door() -> None:
    """415 for a body sent to a JSON door in another media type (or none)."""
    if request.routing_exception is not None or request.method not in UNSAFE_METHODS:
        return  # 404/405 first; DELETE /api/v1/job/{id} carries no body
    if not request.path.startswith(JSON_DOORS):
        return
    if request.method == "DELETE" and not request.content_length:
        return
    if not is_json_type(request.mimetype):
        raise UnsupportedMediaType(f"request body: expected Content-Type application/json, "
                                   f"got {request.mimetype or 'none'!r}")


def drain_unread_body(response: Response) -> None:
    """Read what is left of a request's body (at most :data:`DRAIN_MAX_BYTES`).

    An error often answers before the body was read (a 403, 404, 405, 415), and
    some resources ignore a body (``OPTIONS``, ``GET``). gunicorn then drains at
    most 64 KiB and otherwise closes the connection, after a response that said
    ``keep-alive``: the client's next request on it (requests and urllib3 retry
    nothing by default) fails with "connection aborted". Reading the rest here
    keeps the connection usable; a larger body still closes it.
    """
    length = request.content_length
    if not length or length > DRAIN_MAX_BYTES:
        return
    try:
        while request.stream.read(64 * 1024):
            pass
    except Exception:  # a client gone, bad framing: gunicorn closes the connection
        return


def register(app: Flask, settings: Settings) -> None:
    """Install the strict request class and the checks; call before adding blueprints.

    URL rules bind ``merge_slashes`` when they are added: left on, ``/uws//echo``
    would answer a 308 redirect page instead of the front door's 404. (Routes
    that end in ``/`` are registered without it too, so that ``strict_slashes``
    never redirects either.)
    """
    rules = HostRules.from_settings(settings)
    app.request_class = StrictRequest
    app.json = SafeJSONProvider(app)
    app.url_map.merge_slashes = False

    @app.before_request
    def _guard() -> None:
        check_path_and_query()
        own = check_host(rules)
        check_origin(rules, own)
        check_json_door()

    @app.after_request
    def _drain(response: Response) -> Response:
        drain_unread_body(response)
        return response

    @app.errorhandler(ParseException)
    @app.errorhandler(NoMoreData)
    def _bad_framing(exc: Exception) -> Response:
        # gunicorn reads a chunked body while the app reads it: bad framing surfaces here
        detail = " ".join(str(exc).split())[:200]
        return error_response(400, f"malformed request body: {detail}" if detail
                              else "malformed request body: it ended early")
