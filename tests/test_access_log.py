"""The access log's default line is gunicorn's own, from the nine atoms it prints."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

from gunicorn import glogging
from gunicorn.config import Config

from uws_server.logs import DEFAULT_ACCESS_LOG_FORMAT, GunicornLogger

ENVIRON = {
    "REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "POST", "RAW_URI": "/uws/echo?x=\"1\"",
    "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/uws/echo", "QUERY_STRING": "x=\"1\"",
    "HTTP_USER_AGENT": 'wrk "quoted"', "HTTP_AUTHORIZATION": "Basic dXNlcjpwdw==",
}


def _line(logger: glogging.Logger, format_: str) -> str:
    response = SimpleNamespace(status="303 SEE OTHER", sent=0,
                               headers=[("Location", "http://x/uws/echo/1")])
    request = SimpleNamespace(headers=[("HOST", "x"), ("USER-AGENT", 'wrk "quoted"')])
    atoms = logger.atoms(response, request, ENVIRON, datetime.timedelta(microseconds=1500))
    return format_ % glogging.SafeAtoms(atoms)


def _loggers(format_: str) -> tuple[glogging.Logger, GunicornLogger]:
    config = Config()
    config.set("access_log_format", format_)
    fixed = "[01/Dec/2026:12:00:00 +0000]"
    plain, ours = glogging.Logger(config), GunicornLogger(config)
    plain.now = ours.now = lambda: fixed  # type: ignore[method-assign]
    return plain, ours


def test_default_access_line_is_byte_for_byte_gunicorns():
    plain, ours = _loggers(DEFAULT_ACCESS_LOG_FORMAT)
    assert Config().access_log_format == DEFAULT_ACCESS_LOG_FORMAT
    assert _line(ours, DEFAULT_ACCESS_LOG_FORMAT) == _line(plain, DEFAULT_ACCESS_LOG_FORMAT)
    assert '"wrk \\"quoted\\""' in _line(ours, DEFAULT_ACCESS_LOG_FORMAT)


def test_a_custom_access_format_still_gets_every_atom():
    custom = '%(h)s %({host}i)s %({location}o)s %(L)s %(p)s'
    plain, ours = _loggers(custom)
    assert _line(ours, custom) == _line(plain, custom)
    assert " x http://x/uws/echo/1 0.001500 " in _line(ours, custom)
