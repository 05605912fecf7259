"""The body of ``POST /batches``, parsed and expanded into argument sets (pure; no database).

::

    {"tool_id": "echo" | "echo/1.0.0",
     "args": [{"message": "a"}, {"message": "b"}]        # either a list of sets,
     "sweep": {"message": ["a", "b"], "n": [1, 2]},        # or a sweep (cartesian product;
     "mode": "product" | "zip",                            #  "zip": the i-th of each list),
     "common": {"flag": true},                             # fixed arguments of every set
     "hardware": {"cpu": 2, "memory": 1024, "filesystems": ["scratch"]},
     "start": true}                                        # false: the jobs stay PENDING

A value is a string, a number or a boolean (written as JSON text, as the UWS
door takes a JSON body), or a list of those for an input that takes several.
Nothing here knows the job type: the sets are checked against its manifest by
:mod:`uws_server.services.batches`.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter

FIELDS = ("tool_id", "args", "sweep", "mode", "common", "hardware", "start")
MODES = ("product", "zip")
#: ``(name, value)`` pairs of one set, in the order sent (common arguments first).
Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class BatchRequest:
    """A parsed creation request: what to run, how many times, on what."""

    type_name: str
    version: str | None
    sets: list[Pairs]
    hardware: Any
    start: bool

    @property
    def tool_id(self) -> str:
        """``name`` or ``name/version`` as the client gave it."""
        return self.type_name if self.version is None else f"{self.type_name}/{self.version}"


def _text(where: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
        return json.dumps(value)
    raise InvalidParameter(f"{where}: expected a string, a number or a boolean (or a list of "
                           f"them), got {type(value).__name__}")


def _pairs(where: str, values: dict[str, Any]) -> Pairs:
    pairs: Pairs = []
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        pairs += [(name, _text(f"{where}: {name}", item)) for item in items]
    return pairs


def _object(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameter(f"{name}: expected a JSON object of parameters")
    return value


def _tool(value: Any) -> tuple[str, str | None]:
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter("tool_id: missing; expected a job type name, or name/version")
    name, sep, version = value.strip().partition("/")
    if sep and not version:
        raise InvalidParameter(f"tool_id: no version after the '/' in {value[:80]!r}")
    return name, (version if sep else None)


def _sweep_sets(sweep: dict[str, Any], mode: str, max_jobs: int) -> list[dict[str, Any]]:
    if not sweep:
        raise InvalidParameter("sweep: names no parameter; give each one a list of values")
    for name, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise InvalidParameter(f"sweep: {name}: expected a non-empty list of values")
    names = list(sweep)
    if mode == "zip":
        lengths = {len(v) for v in sweep.values()}
        if len(lengths) > 1:
            described = ", ".join(f"{n} has {len(sweep[n])}" for n in names)
            raise InvalidParameter(f"sweep: mode zip needs lists of one length ({described})")
        count = lengths.pop()
        _check_count(count, max_jobs)
        return [dict(zip(names, row, strict=True))
                for row in zip(*sweep.values(), strict=True)]
    _check_count(math.prod(len(v) for v in sweep.values()), max_jobs)
    return [dict(zip(names, row, strict=True)) for row in itertools.product(*sweep.values())]


def _check_count(count: int, max_jobs: int) -> None:
    if max_jobs and count > max_jobs:
        raise InvalidParameter(f"batch of {count} jobs: more than the {max_jobs} a batch may "
                               "have (UWS_MAX_BATCH_JOBS)")


def parse_request(body: Any, *, max_jobs: int) -> BatchRequest:
    """Parse and expand a creation request; every set is checked later, against the type.

    Raises
    ------
    InvalidParameter
        Naming the field: not an object, an unknown field, no tool, both or neither of
        ``args`` and ``sweep``, an empty or oversized expansion, a value that is not a
        string, number or boolean, a set that repeats a ``common`` argument.
    """
    if not isinstance(body, dict):
        raise InvalidParameter("request body: expected a JSON object (tool_id, args or sweep, "
                               "common, hardware, start)")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise InvalidParameter(f"{unknown[0]}: unknown field (a batch takes "
                               f"{', '.join(FIELDS)})")
    name, version = _tool(body.get("tool_id"))
    if ("args" in body) == ("sweep" in body):
        raise InvalidParameter("args, sweep: give exactly one: a list of argument sets, or a "
                               "sweep of parameter -> list of values")
    mode = body.get("mode", "product")
    if mode not in MODES:
        raise InvalidParameter(f"mode: expected product or zip, got {str(mode)[:40]!r}")
    if "args" in body:
        if "mode" in body:
            raise InvalidParameter("mode: applies to a sweep, not to a list of args")
        raw = body["args"]
        if not isinstance(raw, list) or not raw:
            raise InvalidParameter("args: expected a non-empty list of argument sets")
        _check_count(len(raw), max_jobs)
        sets = [_object(f"set {index}", entry) for index, entry in enumerate(raw)]
    else:
        sets = _sweep_sets(_object("sweep", body["sweep"]), mode, max_jobs)
    common = _object("common", body.get("common") or {})
    start = body.get("start", True)
    if not isinstance(start, bool):
        raise InvalidParameter(f"start: expected true or false, got {str(start)[:40]!r}")
    fixed = _pairs("common", common)
    folded = {key.strip().upper() for key in common}
    expanded: list[Pairs] = []
    for index, entry in enumerate(sets):
        clash = next((key for key in entry if key.strip().upper() in folded), None)
        if clash is not None:
            raise InvalidParameter(f"set {index}: {clash}: given in common too; a parameter "
                                   "is either fixed or varied")
        expanded.append(fixed + _pairs(f"set {index}", entry))
    return BatchRequest(name, version, expanded, body.get("hardware"), start)
