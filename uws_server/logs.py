"""One logging set-up for every process: ``serve``, ``worker``, the gunicorn web tier, the CLI.

:func:`configure_logging` gives the root logger one handler on standard error,
in the format ``UWS_LOG_FORMAT`` names: ``text``, a line for people, or
``json``, one JSON object per line with ``time``, ``level``, ``logger``,
``message`` and the structured fields a call passes with ``extra=`` (job
events use :func:`job_fields`: ``job_id``, ``job_type``, ``owner``,
``backend_id``, ``phase``). A line logged while an HTTP request is served
carries that request's id (:mod:`uws_server.requestid`): ``[id]`` after the
logger's name in text, ``request_id`` in JSON. gunicorn's own lines (its error log, and the
access log in JSON mode) take the same format through :class:`GunicornLogger`.

Whatever logged it, the database password never reaches a line: it is
replaced by ``***`` as each record is formatted.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from gunicorn import glogging

from .requestid import RequestIdFilter

if TYPE_CHECKING:
    from .config import Settings
    from .models import Job

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"

#: Attributes every LogRecord has: anything else on a record came with ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName", "request_tag"}


class _State:
    """What the current process was configured with (read by :class:`GunicornLogger`)."""

    format = "text"
    secrets: tuple[str, ...] = ()


def _redact(text: str) -> str:
    for secret in _State.secrets:
        text = text.replace(secret, "***")
    return text


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, with secrets masked."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        return _redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and key not in doc:
                if key == "request_id" and value is None:
                    continue  # outside a request
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return _redact(json.dumps(doc, default=str, ensure_ascii=False))


def formatter(kind: str | None = None) -> logging.Formatter:
    """The formatter of ``kind`` (``text``/``json``; default: what the process was set up with)."""
    return JsonFormatter() if (kind or _State.format) == "json" else TextFormatter()


def _secrets_of(settings: Settings) -> tuple[str, ...]:
    """The database password as it may appear in a line (plain and URL-encoded), and the
    metrics token."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    forms = {settings.metrics_token} if settings.metrics_token else set()
    try:
        password = make_url(settings.effective_database_url).password
    except (ArgumentError, ValueError):
        password = None
    if password:
        forms |= {str(password), quote(str(password), safe=""), quote_plus(str(password))}
    return tuple(sorted(forms, key=len, reverse=True))


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Send every logger's records to ``stream`` (standard error) in the configured format.

    Idempotent: calling it again (gunicorn's master, then the WSGI module in
    a worker) replaces the handler it installed before instead of adding one.
    """
    _State.format = settings.log_format
    _State.secrets = _secrets_of(settings)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_uws", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._uws = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # Alembic names each plugin it sets up at INFO, seven lines per migration run.
    logging.getLogger("alembic.runtime.plugins").setLevel(
        logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)


def job_fields(job: Job, **more: Any) -> dict[str, Any]:
    """The structured fields of a job's log lines (``extra=``), plus any given."""
    return {"job_id": job.id, "job_type": job.job_type_name, "owner": job.owner_id,
            "backend_id": job.backend_id, "phase": job.phase, **more}


#: gunicorn's default ``access_log_format`` (the Apache combined log line).
DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, writing its lines in the service's format.

    Its error log (``Booting worker``...) uses the service's formatter; in JSON
    mode its access log lines become JSON objects too (``message`` holds the
    access-log line).
    """

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        """The access-log atoms; with the default format only the nine it prints.

        gunicorn builds an atom for every request header, response header and
        environ key (about sixty) and escapes each, for every request: about 5 %
        of a job creation's time. The default line uses nine; any other
        ``access_log_format`` gets gunicorn's full set.
        """
        if self.cfg.access_log_format != DEFAULT_ACCESS_LOG_FORMAT:
            return dict(super().atoms(resp, req, environ, request_time))
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        return {
            "h": environ.get("REMOTE_ADDR", "-"), "l": "-",
            "u": self._get_user(environ) or "-", "t": self.now(),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} "
                 f"{environ['SERVER_PROTOCOL']}",
            "s": status, "b": (sent is not None and str(sent)) or "-",
            "f": environ.get("HTTP_REFERER", "-"), "a": environ.get("HTTP_USER_AGENT", "-"),
        }

    def setup(self, cfg: Any) -> None:
        """Let gunicorn build its handlers, then give them the service's formatter."""
        super().setup(cfg)
        for handler in self.error_log.handlers:
            if getattr(handler, "_gunicorn", False):
                handler.setFormatter(formatter())
                handler.addFilter(RequestIdFilter())
        if _State.format == "json":
            for handler in self.access_log.handlers:
                if getattr(handler, "_gunicorn", False):
                    handler.setFormatter(JsonFormatter())
