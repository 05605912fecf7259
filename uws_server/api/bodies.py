"""The request class of the app: bodies decoded strictly, or refused with a 4xx.

Werkzeug is lenient where this service must not be: a form field or a text
body that is not UTF-8 becomes U+FFFD (multipart, ``get_data(as_text=True)``)
or silently an *empty* form (a urlencoded body), percent-escapes of invalid
UTF-8 stay as literal ``%FF``, a multipart body without a boundary is an empty
form, and JSON is parsed by ``json.loads`` (``RecursionError`` on deep nesting:
a 500). :class:`StrictRequest` turns each of these into
:class:`~uws_server.errors.InvalidParameter` (400) with a one-line message,
wherever the body is read: ``request.form``/``files``, ``get_data(as_text=True)``,
``get_json()`` (with :class:`SafeJSONProvider` as the app's ``json``).
"""

from __future__ import annotations

import codecs
import json
import typing as t
from typing import Any, Literal
from urllib.parse import parse_qsl

from flask import Request
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import Headers
from werkzeug.formparser import FormDataParser, MultiPartParser

from .. import safejson
from ..errors import InvalidParameter, UWSError

#: A codec that decodes UTF-8 strictly whatever ``errors`` it is given: Werkzeug's multipart
#: parser decodes text parts with ``errors="replace"``, which cannot be changed otherwise.
STRICT_UTF8 = "uws_strict_utf_8"


class UnsupportedMediaType(UWSError):
    """A body in a media type the resource does not take (415)."""

    status = 415


def _strict_decode(data: Any, errors: str = "strict") -> tuple[str, int]:
    return codecs.utf_8_decode(data, "strict", True)


def _find_codec(name: str) -> codecs.CodecInfo | None:
    if name != STRICT_UTF8:
        return None
    return codecs.CodecInfo(name=STRICT_UTF8, encode=codecs.utf_8_encode,
                            decode=_strict_decode)


codecs.register(_find_codec)


def not_utf8(exc: UnicodeDecodeError, what: str) -> InvalidParameter:
    """The 400 for bytes that are not UTF-8, saying where."""
    return InvalidParameter(f"{what}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x} at "
                            f"offset {exc.start})")


class _StrictMultiPartParser(MultiPartParser):
    def get_part_charset(self, headers: Headers) -> str:
        charset = super().get_part_charset(headers)
        return STRICT_UTF8 if charset == "utf-8" else charset


class _StrictFormDataParser(FormDataParser):
    """Parse errors raise (``silent=False``); text is decoded strictly."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["silent"] = False
        super().__init__(*args, **kwargs)

    def _parse_multipart(self, stream: t.IO[bytes], mimetype: str, content_length: int | None,
                         options: dict[str, str]) -> Any:
        parser = _StrictMultiPartParser(
            stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts, cls=self.cls)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("multipart/form-data without a boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files

    def _parse_urlencoded(self, stream: t.IO[bytes], mimetype: str, content_length: int | None,
                          options: dict[str, str]) -> Any:
        text = stream.read().decode("utf-8")
        items = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        return stream, self.cls(items), self.cls()


class SafeJSONProvider(DefaultJSONProvider):
    """The app's JSON: :func:`uws_server.safejson.loads` for every text it parses (Flask
    hands ``app.json`` to each request for ``get_json``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s`` strictly (``kwargs`` are not supported: nothing here passes any)."""
        return safejson.loads(s)


class StrictRequest(Request):
    """Flask's request, with the strict body decoding described in the module docstring.

    ``get_json`` parses with the app's :class:`SafeJSONProvider`.
    """

    form_data_parser_class = _StrictFormDataParser

    def _load_form_data(self) -> None:
        try:
            super()._load_form_data()
        except UnicodeDecodeError as exc:
            raise not_utf8(exc, "request body") from None
        except ValueError as exc:  # a malformed multipart body, a missing boundary
            raise InvalidParameter(f"request body: malformed {self.mimetype} ({exc})") from None

    @t.overload
    def get_data(self, cache: bool = ..., as_text: Literal[False] = ...,
                 parse_form_data: bool = ...) -> bytes: ...

    @t.overload
    def get_data(self, cache: bool = ..., as_text: Literal[True] = ...,
                 parse_form_data: bool = ...) -> str: ...

    def get_data(self, cache: bool = True, as_text: bool = False,
                 parse_form_data: bool = False) -> bytes | str:
        """The body; as text only when it is UTF-8 (400 otherwise, never U+FFFD)."""
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        if not as_text:
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise not_utf8(exc, "request body") from None

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        """A one-line 400 saying what is wrong with the JSON (415 if it is not JSON at all)."""
        if e is None:
            raise UnsupportedMediaType(f"request body: expected Content-Type application/json, "
                                       f"got {self.mimetype or 'none'!r}")
        text = " ".join(str(e).split())
        if isinstance(e, json.JSONDecodeError):
            text = f"malformed JSON ({text})"
        raise InvalidParameter(f"request body: {text}")
