"""Seed 1.0.0 manifests: validation, typed inputs, and the argv a job runs.

A job type is a Seed manifest. Its ``interface.command`` is a template the
operator wrote; it is split into words once (``shlex``, no shell ever runs)
and every ``${NAME}`` inside a word is replaced by a validated parameter
value, so a client value always stays inside the one argv entry it was put
in. A word that is exactly ``${NAME}`` for a file input with several files
becomes one argv entry per file.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from .. import safejson
from ..resources import schema_path

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_-]+)\}")

#: Variables every command template may use besides its inputs.
BUILTIN_VARIABLES = ("OUTPUT_DIR", "JOB_DIR", "JOB_ID", "PYTHON")

#: UWS job-control parameter names; inputs may not be called so.
RESERVED_NAMES = frozenset(
    {"PHASE", "RUNID", "EXECUTIONDURATION", "DESTRUCTION", "ACTION", "WAIT", "VERSION", "QUOTE"}
)


@dataclass(frozen=True)
class Problem:
    """One validation finding: ``name`` is the field path, ``description`` the rule broken."""

    name: str
    description: str

    def as_dict(self) -> dict[str, str]:
        """The ``{name, description}`` form the registry API returns."""
        return {"name": self.name, "description": self.description}


class ManifestError(ValueError):
    """A manifest that fails the schema or the extra checks."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.name}: {p.description}" for p in self.problems))


@cache
def _schema_validator() -> jsonschema.Draft4Validator:
    with open(schema_path("seed/seed.manifest.schema.json"), encoding="utf-8") as handle:
        return jsonschema.Draft4Validator(json.load(handle))


def _path(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(manifest)"


def check_manifest(manifest: Any) -> tuple[list[Problem], list[Problem]]:
    """Validate a manifest; return ``(errors, warnings)`` naming field paths and rules."""
    if not isinstance(manifest, dict):
        return [Problem("(manifest)", "a manifest must be a JSON object")], []
    errors = [
        Problem(_path(err.absolute_path), err.message)
        for err in sorted(_schema_validator().iter_errors(manifest), key=lambda e: list(e.path))
    ]
    warnings: list[Problem] = []
    found_job = manifest.get("job")
    job: dict[str, Any] = found_job if isinstance(found_job, dict) else {}
    found_interface = job.get("interface")
    interface: dict[str, Any] = found_interface if isinstance(found_interface, dict) else {}
    inputs = interface.get("inputs") or {}
    outputs = interface.get("outputs") or {}
    groups = {
        "job.interface.inputs": [*(inputs.get("files") or []), *(inputs.get("json") or [])],
        "job.interface.outputs": [*(outputs.get("files") or []), *(outputs.get("json") or [])],
        "job.interface.mounts": interface.get("mounts") or [],
        "job.interface.settings": interface.get("settings") or [],
        "job.errors": job.get("errors") or [],
    }
    for where, items in groups.items():
        seen: set[str] = set()
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                errors.append(Problem(f"{where}.{name}", "duplicate name"))
            seen.add(name)
    for item in [*(inputs.get("files") or []), *(inputs.get("json") or [])]:
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name.upper() in RESERVED_NAMES:
            errors.append(Problem(f"job.interface.inputs.{name}",
                                  "name is reserved for UWS job control"))
    for index, mount in enumerate(interface.get("mounts") or []):
        path = mount.get("path") if isinstance(mount, dict) else None
        if isinstance(path, str) and (not path.startswith("/") or ".." in Path(path).parts):
            errors.append(Problem(f"job.interface.mounts[{index}].path",
                                  "must be an absolute path without '..'"))
    for index, scalar in enumerate(((job.get("resources") or {}).get("scalar")) or []):
        if isinstance(scalar, dict) and scalar.get("name") == "gpus":
            value = scalar.get("value")
            if not isinstance(value, (int, float)) or value != int(value) or value < 0:
                errors.append(Problem(f"job.resources.scalar[{index}].value",
                                      "gpus must be a non-negative whole number"))
    command = interface.get("command")
    if isinstance(command, str):
        try:
            words = shlex.split(command)
        except ValueError as exc:
            errors.append(Problem("job.interface.command", f"cannot be split into words: {exc}"))
            words = []
        if not words and command.strip():
            errors.append(Problem("job.interface.command", "is empty"))
        known = {i.get("name") for i in groups["job.interface.inputs"] if isinstance(i, dict)}
        known |= {s.get("name") for s in groups["job.interface.settings"] if isinstance(s, dict)}
        secret = {s.get("name") for s in groups["job.interface.settings"]
                  if isinstance(s, dict) and s.get("secret")}
        for word in words:
            for name in _PLACEHOLDER.findall(word):
                if name in secret:
                    warnings.append(Problem(
                        "job.interface.command",
                        f"${{{name}}} is a secret setting: it is not put on the command line "
                        "(read it from the environment)"))
                elif name not in known and name not in BUILTIN_VARIABLES:
                    warnings.append(Problem("job.interface.command",
                                            f"${{{name}}} is neither an input nor a setting"))
    return errors, warnings


@dataclass(frozen=True)
class InputSpec:
    """One input of a job type, as UWS parameters see it."""

    name: str
    kind: str  # "file" or a JSON type: string, integer, number, boolean, array, object
    required: bool = True
    multiple: bool = False
    media_types: tuple[str, ...] = ()

    @property
    def is_file(self) -> bool:
        """Whether the input is a file (uploaded or by reference)."""
        return self.kind == "file"


@dataclass(frozen=True)
class OutputSpec:
    """One output file pattern; matching files become results."""

    name: str
    pattern: str
    media_type: str | None = None
    multiple: bool = False
    required: bool = True


@dataclass(frozen=True)
class JobTypeInterface:
    """The parts of a manifest the service acts on, parsed once."""

    name: str
    version: str
    title: str
    description: str
    command: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    timeout: int | None
    resources: Mapping[str, float]
    resource_multipliers: Mapping[str, float]
    settings: tuple[tuple[str, bool], ...]  # (name, secret)
    errors: tuple[Mapping[str, Any], ...]
    output_json: tuple[str, ...] = field(default=())

    def input(self, name: str) -> InputSpec | None:
        """The input of that name, compared case-insensitively (UWS names are)."""
        folded = name.casefold()
        return next((i for i in self.inputs if i.name.casefold() == folded), None)


def parse_interface(manifest: Mapping[str, Any]) -> JobTypeInterface:
    """Read the service-relevant parts of a *valid* manifest."""
    job = manifest["job"]
    interface = job.get("interface") or {}
    inputs = interface.get("inputs") or {}
    specs = [
        InputSpec(
            name=f["name"], kind="file", required=f.get("required", True),
            multiple=f.get("multiple", False), media_types=tuple(f.get("mediaTypes") or ()),
        )
        for f in inputs.get("files") or []
    ]
    specs += [
        InputSpec(name=j["name"], kind=j["type"], required=j.get("required", True))
        for j in inputs.get("json") or []
    ]
    outputs = interface.get("outputs") or {}
    scalars = (job.get("resources") or {}).get("scalar") or []
    return JobTypeInterface(
        name=job["name"],
        version=job["jobVersion"],
        title=job.get("title", job["name"]),
        description=job.get("description", ""),
        command=interface.get("command", ""),
        inputs=tuple(specs),
        outputs=tuple(
            OutputSpec(
                name=o["name"], pattern=o["pattern"], media_type=o.get("mediaType"),
                multiple=o.get("multiple", False), required=o.get("required", True),
            )
            for o in outputs.get("files") or []
        ),
        timeout=job.get("timeout"),
        resources={s["name"]: float(s["value"]) for s in scalars},
        resource_multipliers={
            s["name"]: float(s["inputMultiplier"]) for s in scalars if "inputMultiplier" in s
        },
        settings=tuple(
            (s["name"], bool(s.get("secret", False))) for s in interface.get("settings") or []
        ),
        errors=tuple(job.get("errors") or ()),
        output_json=tuple(o["name"] for o in outputs.get("json") or []),
    )


def coerce_value(spec: InputSpec, raw: str) -> Any:
    """Check and convert a UWS string value to the input's JSON type.

    Raises ``ValueError`` with a message that says what was expected.
    """
    kind = spec.kind
    if kind == "string":
        return raw
    if kind == "integer":
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
    if kind == "number":
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {raw!r}")
        return int(value) if value.is_integer() and "." not in raw and "e" not in raw.lower() \
            else value
    if kind == "boolean":
        text = raw.strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off"}:
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if kind in {"array", "object"}:
        try:
            value = safejson.loads(raw)  # json.loads raises RecursionError on deep nesting
        except ValueError as exc:
            raise ValueError(f"expected a JSON {kind} ({exc}), got {raw[:80]!r}") from None
        expected = list if kind == "array" else dict
        if not isinstance(value, expected):
            raise ValueError(f"expected a JSON {kind}, got {raw!r}")
        return value
    raise ValueError(f"unsupported input type {kind!r}")


def argv_word(value: Any) -> str:
    """How a typed value is written into one argv entry."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def build_argv(command: str, variables: Mapping[str, Sequence[str]]) -> list[str]:
    """Expand a command template into an argv list, never through a shell.

    ``variables`` maps names to their values (a list: file inputs may carry
    several). A word that is exactly one placeholder expands to one entry per
    value (none for an absent optional input); a placeholder inside a longer
    word is replaced by the values joined with spaces, staying one entry.
    Unknown placeholders expand to nothing.
    """
    argv: list[str] = []
    for word in shlex.split(command):
        whole = _PLACEHOLDER.fullmatch(word)
        if whole:
            argv.extend(variables.get(whole.group(1), ()))
            continue
        argv.append(_PLACEHOLDER.sub(lambda m: " ".join(variables.get(m.group(1), ())), word))
    return argv


# -- registry additions: lenient normalisation (configuration checks: jobtype_config.py) ------
#: The value a secret setting shows in every response; sent back unchanged, it keeps the
#: stored value (so a configuration read with GET can be PATCHed back as it is).
SECRET_MASK = "*****"


def normalize_manifest(manifest: Any) -> tuple[Any, list[Problem]]:
    """Fill what Scale's own examples leave out; return ``(manifest, warnings)``.

    The Scale v6 examples omit ``job.errors[].name``, which Seed 1.0.0 requires.
    Such an error is accepted with a warning and named ``error-{code}``. The
    input is never modified; a filled copy is returned.
    """
    if not isinstance(manifest, dict) or not isinstance(manifest.get("job"), dict):
        return manifest, []
    errors = manifest["job"].get("errors")
    if not isinstance(errors, list):
        return manifest, []
    warnings: list[Problem] = []
    filled = []
    for index, entry in enumerate(errors):
        if isinstance(entry, dict) and "name" not in entry and isinstance(entry.get("code"), int):
            name = f"error-{entry['code']}"
            warnings.append(Problem(
                f"job.errors[{index}].name",
                f"missing (Seed 1.0.0 requires it); named {name!r} from its code"))
            entry = {**entry, "name": name}
        filled.append(entry)
    if not warnings:
        return manifest, []
    return {**manifest, "job": {**manifest["job"], "errors": filled}}, warnings
