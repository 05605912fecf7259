"""The submit form's optional sweep: several values for some parameters become a batch.

With "sweep" ticked, each parameter whose sweep box holds values (one per
line) is varied, the other fields are fixed for every job, and the form is
sent to :meth:`BatchService.create` as the ``POST /batches`` body
``{"tool_id", "sweep", "common", "start"}``: one job per combination (the
cartesian product, the last parameter varying fastest), every set checked by
the API's rules before anything is written. A refusal names the set
(``set 4: n: expected an integer``); :func:`sweep_error` turns the set's
number back into the values that made it and puts the message next to the
field it is about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidParameter
from .forms import Field, field_of_message

#: The form field holding the values of parameter ``name`` is ``sweep-<name>``.
PREFIX = "sweep-"
_SET = re.compile(r"^set (\d+): (.*)$", re.DOTALL)
#: What a sweep's jobs cannot be given, and why (shown next to the field).
NOT_SWEPT = {
    "RUNID": "RUNID: a sweep's jobs carry their batch's id as run id; leave it empty",
    "EXECUTIONDURATION": "EXECUTIONDURATION: a sweep's jobs take the job type's duration; "
                         "leave it empty",
}


class SweepRefused(InvalidParameter):
    """The sweep part of the form cannot become a batch (``field``: the one to mark)."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field


def wanted(form: Mapping[str, str]) -> bool:
    """Whether the form asks for a sweep (the "sweep" box ticked)."""
    return form.get("sweep") == "on"


def values_of(text: str) -> list[str]:
    """The values of a sweep box: one per line, blank lines and surrounding spaces dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def swept(fields: Sequence[Field], form: Mapping[str, str]) -> dict[str, list[str]]:
    """Parameter -> its values, for the fields whose sweep box holds any (form order)."""
    found = {}
    for field in fields:
        if field.kind != "file":
            values = values_of(form.get(PREFIX + field.name, ""))
            if values:
                found[field.name] = values
    return found


def batch_body(type_name: str, fields: Sequence[Field], form: Mapping[str, str],
               uploads: Mapping[str, list[Any]]) -> dict[str, Any]:
    """The ``POST /batches`` body the form describes.

    Raises
    ------
    SweepRefused
        No parameter has sweep values, a file was chosen (a batch takes no uploads), or
        a control field (run id, duration) was filled in.
    """
    varied = swept(fields, form)
    if not varied:
        raise SweepRefused("sweep: give several values (one per line) for at least one "
                           "parameter, or untick the sweep", "sweep")
    for name in uploads:
        raise SweepRefused(f"{name}: a sweep cannot upload files; give a URL, or submit "
                           "single jobs", name)
    for name, message in NOT_SWEPT.items():
        if form.get(name, "").strip():
            raise SweepRefused(message, name)
    common = {f.name: form[f.name] for f in fields
              if f.kind != "file" and f.name not in varied and form.get(f.name, "") != ""}
    return {"tool_id": type_name, "sweep": varied, "common": common,
            "start": form.get("start", "run") == "run"}


def combination(varied: Mapping[str, Sequence[str]], index: int) -> dict[str, str]:
    """The values of set ``index`` of the cartesian product (the last name fastest)."""
    chosen: dict[str, str] = {}
    for name in reversed(list(varied)):
        values = varied[name]
        index, digit = divmod(index, len(values))
        chosen[name] = values[digit]
    return {name: chosen[name] for name in varied}


def sweep_error(fields: Sequence[Field], varied: Mapping[str, Sequence[str]], message: str
                ) -> tuple[str | None, str]:
    """Which field a batch refusal is about (a sweep box ``sweep-<name>`` when the
    parameter was varied) and the message, its set named by its values."""
    found = _SET.match(message)
    if not found:
        return field_of_message(fields, message), message
    index, rest = int(found.group(1)), found.group(2)
    field = field_of_message(fields, rest)
    values = ", ".join(f"{name}={value}" for name, value in
                       combination(varied, index).items()) if varied else ""
    shown = f"set {index} ({values}): {rest}" if values else message
    if field is not None and field in varied:
        return PREFIX + field, shown
    return field, shown
