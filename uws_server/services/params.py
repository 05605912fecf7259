"""Turning what a client sent into checked job parameters, before anything is written.

UWS parameter names are case-insensitive; values are matched to the job
type's Seed inputs, typed, and checked for multiplicity. File inputs come as
a multipart part named after the input, as ``name=param:<part>`` (UWS
§2.2.3.1.1, what pyvo sends), or as an http(s) URL fetched later by the
dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from ..errors import InvalidParameter
from ..jobtypes.seed import InputSpec, JobTypeInterface, argv_word, coerce_value
from ..urlguard import UrlPolicy, UrlRefused, check_url

CONTROL_NAMES = frozenset({"PHASE", "RUNID", "EXECUTIONDURATION", "DESTRUCTION", "VERSION",
                           "ACTION"})


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

    Returns
    -------
    dict
        Input name → its values, in the order sent.

    Raises
    ------
    InvalidParameter
        Naming the parameter and what is wrong with it.
    """
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
                                      url=_check_url(spec, raw.strip(), allow_urls,
                                                     url_policy))]
        else:
            if "\x00" in raw:  # no database text column can store it
                raise InvalidParameter(f"{spec.name}: contains a NUL character")
            try:
                typed = coerce_value(spec, raw)
            except ValueError as exc:
                raise InvalidParameter(f"{spec.name}: {exc}") from None
            entries = [ParamValue(spec.name, argv_word(typed))]
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
