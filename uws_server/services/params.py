"""Turning what a client sent into checked job parameters, before anything is written.

UWS parameter names are case-insensitive; values are matched to the job
type's Seed inputs, typed, and checked for multiplicity. File inputs come as
a multipart part named after the input, as ``name=param:<part>`` (UWS
§2.2.3.1.1, what pyvo sends), or as an http(s) URL fetched later by the
dispatcher.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..config import MAX_ARG_BYTES, Settings
from ..errors import InvalidParameter, PayloadTooLarge
from ..jobtypes.seed import InputSpec, JobTypeInterface, argv_word, coerce_value
from ..urlguard import UrlPolicy, UrlRefused, check_url

#: The longest text value when the caller names no limit (``UWS_MAX_PARAMETER_CHARS``'s default).
DEFAULT_MAX_CHARS: int = Settings.max_parameter_chars

#: The webhook parameters of a job's creation (services.notifications). Seed input names
#: cannot hold a dot, so these never shadow a job type's parameter.
NOTIFICATION_NAMES = frozenset({"NOTIFICATION.URL", "NOTIFICATION.EVENT",
                                "NOTIFICATION.PERSISTENT"})
#: Characters XML 1.0 documents cannot carry: a run id holding one is refused, and the
#: renderers drop them from values stored before.
XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
CONTROL_NAMES = frozenset({"PHASE", "RUNID", "EXECUTIONDURATION", "DESTRUCTION", "VERSION",
                           "ACTION"}) | NOTIFICATION_NAMES


class Upload(Protocol):
    """An uploaded file part (Werkzeug's ``FileStorage`` is one)."""

    filename: str | None

    def save(self, dst: str) -> None:
        """Write the part's content to a path."""


@dataclass(frozen=True)
class ParamValue:
    """One checked parameter value waiting to be stored."""

    name: str  # the manifest's spelling
    value: str  # canonical text form; for files, filled in when stored
    is_file: bool = False
    upload: Upload | None = None
    url: str | None = None


def split_control(
    params: Sequence[tuple[str, str]],
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Separate UWS control parameters (upper-cased names) from job parameters."""
    control: dict[str, list[str]] = {}
    others: list[tuple[str, str]] = []
    for name, value in params:
        upper = name.strip().upper()
        if upper in CONTROL_NAMES:
            control.setdefault(upper, []).append(value)
        else:
            others.append((name.strip(), value))
    return control, others


def single(control: Mapping[str, list[str]], name: str) -> str | None:
    """The one value of a single-valued control parameter; 400 when given twice."""
    values = control.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidParameter(f"{name}: given {len(values)} times, expected once")
    return values[0]


@dataclass(frozen=True)
class ValueLimit:
    """The longest parameter value a job type takes, and what sets it (for the message).

    A value is stored as text and becomes one command-line argument: beyond
    ``MAX_ARG_BYTES`` (in UTF-8) it could never run ("Argument list too long"),
    whatever the limit says.
    """

    chars: int
    source: str

    @classmethod
    def of(cls, service_default: int, configuration: Mapping[str, Any] | None) -> ValueLimit:
        """The job type's ``max_parameter_chars`` if its configuration sets one, else the
        service's ``UWS_MAX_PARAMETER_CHARS``."""
        configured = (configuration or {}).get("max_parameter_chars")
        if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
            return cls(configured, "the job type's max_parameter_chars")
        return cls(service_default, "UWS_MAX_PARAMETER_CHARS")

    def check(self, name: str, value: str) -> str:
        """``value``, or 413 naming the parameter and the limit."""
        if len(value) > self.chars:
            raise PayloadTooLarge(f"{name}: {len(value)} characters, more than the {self.chars} "
                                  f"allowed ({self.source})")
        if len(value) * 4 >= MAX_ARG_BYTES and len(value.encode("utf-8")) >= MAX_ARG_BYTES:
            raise PayloadTooLarge(f"{name}: {len(value.encode('utf-8'))} bytes in UTF-8, more "
                                  f"than one command-line argument holds ({MAX_ARG_BYTES - 1})")
        return value


def _short(text: str, limit: int = 300) -> str:
    """A message cut to ``limit`` characters (it may quote a long value)."""
    return text if len(text) <= limit else text[:limit] + "..."


def _check_url(spec: InputSpec, value: str, allow_urls: bool, policy: UrlPolicy | None) -> str:
    """A file input's URL, judged by the SSRF guard as far as it can be without DNS.

    Names that resolve to refused addresses are refused when fetched (the job
    ends in ERROR saying so): the guard checks the address actually connected to.
    """
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidParameter(
            f"{spec.name}: a file input takes an uploaded file (multipart part, or "
            f"'param:<part>') or an http(s) URL, got {value[:80]!r}"
        )
    if not allow_urls:
        raise InvalidParameter(f"{spec.name}: inputs by URL are disabled on this service")
    if policy is not None:
        try:
            check_url(value, policy)
        except UrlRefused as exc:
            raise InvalidParameter(f"{spec.name}: URL refused: {exc}") from None
    return value


def collect(
    interface: JobTypeInterface,
    params: Sequence[tuple[str, str]],
    uploads: Mapping[str, Sequence[Upload]],
    *,
    allow_urls: bool,
    require_all: bool,
    url_policy: UrlPolicy | None = None,
    limit: ValueLimit | None = None,
) -> dict[str, list[ParamValue]]:
    """Check job parameters against the interface.

    Parameters
    ----------
    interface
        The job type's inputs.
    params
        ``(name, value)`` pairs in the order sent, control parameters removed.
    uploads
        Multipart file parts by part name.
    allow_urls
        Whether file inputs may be given as URLs.
    url_policy
        The SSRF guard's policy URLs are checked against (``UWS_URL_ALLOW``/``DENY``).
    require_all
        Whether every required input must be present (at creation).
    limit
        The longest text value (and URL) taken; by default ``UWS_MAX_PARAMETER_CHARS``'s
        default.

    Returns
    -------
    dict
        Input name → its values, in the order sent.

    Raises
    ------
    InvalidParameter
        Naming the parameter and what is wrong with it.
    PayloadTooLarge
        A value longer than ``limit`` (naming the parameter and the limit).
    """
    limit = limit or ValueLimit(DEFAULT_MAX_CHARS, "UWS_MAX_PARAMETER_CHARS")
    values: dict[str, list[ParamValue]] = {}
    referenced: set[str] = set()
    for name, raw in params:
        spec = interface.input(name)
        if spec is None:
            raise InvalidParameter(f"{name}: unknown parameter for job type {interface.name!r}"
                                   f"{_known(interface)}")
        if spec.is_file:
            if raw.startswith("param:"):
                part = raw[len("param:"):]
                files = uploads.get(part)
                if not files:
                    raise InvalidParameter(f"{spec.name}: refers to upload {part!r}, which the "
                                           "request does not contain")
                referenced.add(part)
                entries = [ParamValue(spec.name, "", True, upload=f) for f in files]
            else:
                entries = [ParamValue(spec.name, "", True,
                                      url=_check_url(spec, limit.check(spec.name, raw.strip()),
                                                     allow_urls, url_policy))]
        else:
            if "\x00" in raw:  # no database text column can store it
                raise InvalidParameter(f"{spec.name}: contains a NUL character")
            limit.check(spec.name, raw)  # before parsing it
            try:
                typed = coerce_value(spec, raw)
            except ValueError as exc:
                raise InvalidParameter(f"{spec.name}: {_short(str(exc))}") from None
            entries = [ParamValue(spec.name, limit.check(spec.name, argv_word(typed)))]
        values.setdefault(spec.name, []).extend(entries)
    for part, files in uploads.items():
        if part in referenced:
            continue
        spec = interface.input(part)
        if spec is None or not spec.is_file:
            raise InvalidParameter(f"{part}: uploaded file matches no file input of job type "
                                   f"{interface.name!r}{_known(interface)}")
        values.setdefault(spec.name, []).extend(
            ParamValue(spec.name, "", True, upload=f) for f in files
        )
    for name, entries in values.items():
        spec = interface.input(name)
        assert spec is not None
        if len(entries) > 1 and not spec.multiple:
            raise InvalidParameter(f"{name}: given {len(entries)} times, but takes one value")
    if require_all:
        missing = [i.name for i in interface.inputs if i.required and i.name not in values]
        if missing:
            raise InvalidParameter(f"{missing[0]}: required parameter is missing"
                                   + (f" (also missing: {', '.join(missing[1:])})"
                                      if len(missing) > 1 else ""))
    return values


def _known(interface: JobTypeInterface) -> str:
    names = [i.name for i in interface.inputs]
    return f" (it takes: {', '.join(names)})" if names else " (it takes no parameters)"
