"""UTC instants as UWS 1.1 wants them: ISO 8601 with a ``T`` and a ``Z``.

Python's ``isoformat()`` gives ``+00:00``, which pyvo cannot read, so
formatting is explicit. Parsing is lenient the way clients are: ``Z``, no
zone (taken as UTC), an offset, and 0 to 6 fraction digits; but an offset
ISO 8601 cannot write (``+24:00``, ``+99:99``) is refused, not converted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC, at millisecond precision."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(value: datetime) -> datetime:
    """Attach UTC to a naive datetime (as databases return them) or convert to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_utc(value: datetime | None) -> str:
    """``2026-11-22T10:00:01.250Z``; the empty string for ``None``."""
    if value is None:
        return ""
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 instant; raise ``ValueError`` with a readable message."""
    match = _ISO.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO 8601 datetime: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            micro, tzinfo=UTC,
        )
    except ValueError as exc:
        raise ValueError(f"not a valid datetime: {text!r} ({exc})") from None
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:  # ISO 8601: hh 00-23, mm 00-59
            raise ValueError(f"impossible time-zone offset {zone!r} in {text!r} (from -23:59 "
                             "to +23:59)")
        try:
            value -= sign * timedelta(hours=hours, minutes=minutes)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise ValueError(f"not a representable datetime: {text!r}") from None
    return value
