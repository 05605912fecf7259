"""The submit form of a job type, generated from its Seed manifest.

Each input of the manifest's ``interface.inputs`` becomes a field: file
inputs a file chooser (``accept`` from ``mediaTypes``), JSON inputs a field
of their type (a checkbox-free select for booleans, so that "not given" stays
possible for optional inputs). Seed 1.0 inputs carry only a name, a type and
``required``; optional keys a manifest may add to an input — ``description``,
``default`` and ``enum`` (the choices) — are shown when present.

What the form posts goes through exactly the API's validation
(:meth:`JobService.create`, :func:`uws_server.services.params.collect`);
messages that name a parameter (``seconds: expected a number``) are shown next
to that field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import FileStorage

#: Control parameters the form offers besides the job type's inputs.
CONTROL_FIELDS = ("RUNID", "EXECUTIONDURATION")


@dataclass(frozen=True)
class Field:
    """One input of the form."""

    name: str
    kind: str  # file, string, integer, number, boolean, array, object
    required: bool
    description: str
    default: str
    choices: tuple[str, ...]
    multiple: bool
    accept: str

    @property
    def html_type(self) -> str:
        """The ``<input type>`` that suits the kind."""
        return {"file": "file", "integer": "number", "number": "number"}.get(self.kind, "text")

    @property
    def step(self) -> str:
        """``step`` of a number input: whole numbers for integers, anything for numbers."""
        return "1" if self.kind == "integer" else "any"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def fields_of(manifest: Mapping[str, Any]) -> list[Field]:
    """The form's fields, files first, in the manifest's order."""
    inputs = ((manifest.get("job") or {}).get("interface") or {}).get("inputs") or {}
    fields = []
    for entry in inputs.get("files") or []:
        fields.append(Field(
            name=str(entry["name"]), kind="file", required=bool(entry.get("required", True)),
            description=str(entry.get("description", "")), default="", choices=(),
            multiple=bool(entry.get("multiple", False)),
            accept=",".join(str(m) for m in entry.get("mediaTypes") or ())))
    for entry in inputs.get("json") or []:
        kind = str(entry.get("type", "string"))
        choices = tuple(_text(c) for c in entry.get("enum") or ())
        if kind == "boolean" and not choices:
            choices = ("true", "false")
        fields.append(Field(
            name=str(entry["name"]), kind=kind, required=bool(entry.get("required", True)),
            description=str(entry.get("description", "")), default=_text(entry.get("default")),
            choices=choices, multiple=False, accept=""))
    return fields


def submitted(fields: Sequence[Field], form: Mapping[str, str], files: Sequence[
        tuple[str, FileStorage]]) -> tuple[list[tuple[str, str]], dict[str, list[Any]]]:
    """The ``(name, value)`` pairs and uploads the API would have received.

    Empty optional fields are left out (not given), as a client would leave them.
    """
    pairs: list[tuple[str, str]] = []
    for field in fields:
        if field.kind == "file":
            continue
        value = form.get(field.name, "")
        if value != "":
            pairs.append((field.name, value))
    for name in CONTROL_FIELDS:
        value = form.get(name, "").strip()
        if value:
            pairs.append((name, value))
    uploads: dict[str, list[Any]] = {}
    for name, upload in files:
        if upload.filename:
            uploads.setdefault(name, []).append(upload)
    return pairs, uploads


def field_of_message(fields: Sequence[Field], message: str) -> str | None:
    """Which field a validation message is about (``name: what is wrong``), if any."""
    head = message.split(":", 1)[0].strip()
    for field in fields:
        if field.name.casefold() == head.casefold():
            return field.name
    if head.upper() in CONTROL_FIELDS:
        return head.upper()
    return None
