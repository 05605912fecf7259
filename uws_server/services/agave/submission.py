"""Reading an Agave ``JobRequest`` (reference 004) into what the UWS job service takes.

A request becomes the parameters of an ordinary UWS job of the job type its
``appId`` names (``name-version``): ``parameters`` and ``inputs`` are job
parameters, checked against the manifest by the job service's own code;
``name`` is the UWS ``RUNID``; ``maxRunTime`` the ``EXECUTIONDURATION``. The
job starts at once (``PHASE=RUN``), as an Agave job does.

Fields this service cannot honour are refused with a 400 naming them, never
ignored: a client that asks for a batch queue, more than one node or an
archive on a storage system must not believe it got one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ...errors import InvalidParameter
from ..params import CONTROL_NAMES, Upload
from .statuses import STATUSES, parse_max_run_time

#: Every field of the JobRequest model; anything else in a body is refused.
KNOWN_FIELDS = frozenset({
    "name", "appId", "parameters", "inputs", "maxRunTime", "notifications", "archive",
    "archivePath", "archiveSystem", "batchQueue", "nodeCount", "processorsPerNode",
    "memoryPerNode",
})
#: Fields that ask for something this service does not do, whatever their value.
UNSUPPORTED_FIELDS = {
    "archivePath": "outputs stay in the job's directory; there is no archive storage system",
    "archiveSystem": "outputs stay in the job's directory; there is no archive storage system",
    "batchQueue": "the queue is chosen by the operator's executor configuration",
    "memoryPerNode": "memory is set by the job type's manifest (resources), not per job",
}
#: Events a notification may name besides a status: ``*`` (every change).
NOTIFICATION_EVENTS = STATUSES | {"*"}
_VERSION_TAIL = re.compile(r"^\d[0-9A-Za-z.+_]*$")


@dataclass(frozen=True)
class Notification:
    """One webhook subscription of a request (delivered by the notification service)."""

    url: str
    event: str
    persistent: bool


@dataclass
class Submission:
    """A checked JobRequest: the job type and the UWS parameters to create the job with."""

    type_name: str
    version: str | None
    params: list[tuple[str, str]]
    uploads: dict[str, list[Upload]] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)


def split_app_id(app_id: str) -> tuple[str, str | None]:
    """``echo-1.0.0`` -> ``("echo", "1.0.0")``; an appId without a version tail names the
    job type's latest version."""
    name, sep, tail = app_id.rpartition("-")
    if sep and name and _VERSION_TAIL.fullmatch(tail):
        return name, tail
    return app_id, None


def _text(name: str, value: Any) -> str:
    """A parameter value as the job service takes it: strings as they are, other JSON
    scalars as JSON text (``3``, ``true``)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float):
        text = json.dumps(value)
    else:
        raise InvalidParameter(f"{name}: expected a string, number or boolean, or a list "
                               "of them")
    if "\x00" in text:
        raise InvalidParameter(f"{name}: contains a NUL character")
    return text


def _values(group: str, body: Any) -> list[tuple[str, str]]:
    """``{"name": value | [values]}`` to ``(name, text)`` pairs."""
    if body is None:
        return []
    if isinstance(body, str):  # a form field holding the JSON object
        try:
            body = json.loads(body)
        except ValueError:
            raise InvalidParameter(f"{group}: expected a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidParameter(f"{group}: expected an object of name: value")
    pairs = []
    for name, value in body.items():
        if name.strip().upper() in CONTROL_NAMES:
            raise InvalidParameter(f"{group}.{name}: a UWS control name, not a job parameter")
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, _text(f"{group}.{name}", item)))
    return pairs


def _integer_one(body: Mapping[str, Any], name: str) -> None:
    value = body.get(name)
    if value is None:
        return
    try:
        number = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise InvalidParameter(f"{name}: expected an integer")
    if number != 1:
        raise InvalidParameter(f"{name}: this service runs every job on one node with the "
                               f"job type's processors; only 1 is accepted, got {number}")


def _archive(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        value = value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise InvalidParameter("archive: expected true or false")
    if value:
        raise InvalidParameter("archive: this service cannot archive outputs to a storage "
                               "system (they stay in the job's directory until it is "
                               "destroyed); send false")


def parse_notifications(value: Any) -> list[Notification]:
    """``[{"url", "event", "persistent"}]``, checked for shape (400 naming the entry)."""
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidParameter("notifications: expected a JSON list") from None
    if not isinstance(value, list):
        raise InvalidParameter("notifications: expected a list of {url, event, persistent}")
    found = []
    for index, item in enumerate(value):
        where = f"notifications[{index}]"
        if not isinstance(item, dict):
            raise InvalidParameter(f"{where}: expected an object with url and event")
        unknown = set(item) - {"url", "event", "persistent"}
        if unknown:
            raise InvalidParameter(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        url, event = item.get("url"), item.get("event")
        if not isinstance(url, str) or urlsplit(url).scheme not in {"http", "https"} \
                or not urlsplit(url).hostname:
            raise InvalidParameter(f"{where}.url: expected an http or https URL")
        if not isinstance(event, str) or event.strip().upper() not in NOTIFICATION_EVENTS:
            raise InvalidParameter(f"{where}.event: expected a job status or '*', got "
                                   f"{str(event)[:40]!r}")
        persistent = item.get("persistent", False)
        if not isinstance(persistent, bool):
            raise InvalidParameter(f"{where}.persistent: expected true or false")
        found.append(Notification(url, event.strip().upper(), persistent))
    return found


def parse_request(body: Any, uploads: Mapping[str, Sequence[Upload]] | None = None
                  ) -> Submission:
    """Check a JobRequest (a JSON object, or form fields as strings) and return the job to
    create; 400 naming the field for anything wrong or not honoured."""
    if not isinstance(body, dict):
        raise InvalidParameter("request body: expected a JobRequest JSON object")
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise InvalidParameter(f"unknown JobRequest field(s): {', '.join(unknown)}")
    refused = sorted(name for name in UNSUPPORTED_FIELDS if body.get(name) not in (None, ""))
    if refused:
        raise InvalidParameter(f"{refused[0]}: not supported here: "
                               f"{UNSUPPORTED_FIELDS[refused[0]]}"
                               + (f" (also refused: {', '.join(refused[1:])})"
                                  if refused[1:] else ""))
    _integer_one(body, "nodeCount")
    _integer_one(body, "processorsPerNode")
    _archive(body.get("archive"))
    name, app_id = body.get("name"), body.get("appId")
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("name: required, a non-empty string")
    if len(name) > 64 or "\x00" in name:
        raise InvalidParameter("name: at most 64 characters, no NUL")
    if not isinstance(app_id, str) or not app_id.strip():
        raise InvalidParameter("appId: required, the job type as name-version")
    type_name, version = split_app_id(app_id.strip())
    params = _values("parameters", body.get("parameters"))
    inputs = _values("inputs", body.get("inputs"))
    clash = {n for n, _ in params} & {n for n, _ in inputs}
    if clash:
        raise InvalidParameter(f"{sorted(clash)[0]}: given both as a parameter and an input")
    pairs = [*params, *inputs, ("RUNID", name), ("PHASE", "RUN")]
    if version is not None:
        pairs.append(("VERSION", version))
    if (run_time := body.get("maxRunTime")) not in (None, ""):
        if not isinstance(run_time, str):
            raise InvalidParameter("maxRunTime: expected HH:mm:ss")
        pairs.append(("EXECUTIONDURATION", str(parse_max_run_time(run_time))))
    return Submission(type_name, version, pairs, {k: list(v) for k, v in (uploads or {}).items()},
                      parse_notifications(body.get("notifications")))


def form_request(fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Form fields as a JobRequest: its own fields by name, any other field a job
    parameter (Agave's form submission names parameters and inputs directly)."""
    body: dict[str, Any] = {}
    extra: dict[str, list[str]] = {}
    for name, value in fields:
        if name in KNOWN_FIELDS:
            if name in body:
                raise InvalidParameter(f"{name}: given twice")
            body[name] = value
        else:
            extra.setdefault(name, []).append(value)
    if extra:
        params = body.get("parameters")
        try:
            merged = json.loads(params) if isinstance(params, str) and params.strip() else {}
        except ValueError:
            raise InvalidParameter("parameters: expected a JSON object") from None
        if not isinstance(merged, dict):
            raise InvalidParameter("parameters: expected a JSON object")
        for name, values in extra.items():
            if name in merged:
                raise InvalidParameter(f"{name}: given both as a field and in parameters")
            merged[name] = values if len(values) > 1 else values[0]
        body["parameters"] = merged
    for name in ("nodeCount", "processorsPerNode"):
        if isinstance(body.get(name), str):
            body[name] = body[name].strip()
    return body
