"""Job type configurations (Scale v6 "Job Type Configuration JSON"), checked against a manifest.

Messages name field paths and setting *names*, never setting values (some are secret).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import MAX_ARG_BYTES
from .seed import Problem

#: Scale's keys, and this service's ``max_parameter_chars`` (the longest text value of a
#: parameter of the job type; Seed has no field for it) and ``allowed_users`` /
#: ``allowed_groups`` (who may create jobs of the type; absent: every authenticated user).
_CONFIG_KEYS = frozenset({"version", "mounts", "output_workspaces", "priority", "settings",
                          "max_parameter_chars", "allowed_users", "allowed_groups"})
_INT32 = 2**31 - 1


def _names(items: Any, *keys: str) -> set[str]:
    found: set[str] = set()
    for key in keys:
        entries = items.get(key) if isinstance(items, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                found.add(entry["name"])
    return found


def _check_mount(where: str, value: Any) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(where, "must be an object with a 'type'")]
    problems = []
    kind = value.get("type")
    allowed = {"host": {"type", "host_path"}, "volume": {"type", "driver", "driver_opts"}}
    if kind not in allowed:
        return [Problem(f"{where}.type", "must be 'host' or 'volume'")]
    for key in sorted(set(value) - allowed[kind]):
        problems.append(Problem(f"{where}.{key}", f"not allowed in a {kind} mount"))
    if kind == "host":
        path = value.get("host_path")
        if not isinstance(path, str) or not path.startswith("/") or ".." in Path(path).parts:
            problems.append(Problem(f"{where}.host_path",
                                    "required: an absolute path without '..'"))
    else:
        if "driver" in value and not isinstance(value["driver"], str):
            problems.append(Problem(f"{where}.driver", "must be a string"))
        opts = value.get("driver_opts", {})
        if not isinstance(opts, dict) or not all(isinstance(v, str) for v in opts.values()):
            problems.append(Problem(f"{where}.driver_opts",
                                    "must be an object of string values"))
    return problems


def check_configuration(configuration: Any, manifest: Any
                        ) -> tuple[list[Problem], list[Problem]]:
    """Check a job type configuration against its (valid) manifest.

    Messages name field paths and setting *names*, never setting values.
    """
    if configuration is None:
        configuration = {}
    if not isinstance(configuration, dict):
        return [Problem("configuration", "must be a JSON object")], []
    errors: list[Problem] = []
    warnings: list[Problem] = []
    job = manifest.get("job") if isinstance(manifest, dict) else None
    interface = (job or {}).get("interface") if isinstance(job, dict) else None
    interface = interface if isinstance(interface, dict) else {}
    mount_names = _names(interface, "mounts")
    setting_names = _names(interface, "settings")
    output_names = _names(interface.get("outputs") or {}, "files")
    for key in sorted(set(configuration) - _CONFIG_KEYS):
        errors.append(Problem(f"configuration.{key}", "unknown field (allowed: "
                              + ", ".join(sorted(_CONFIG_KEYS)) + ")"))
    if "version" in configuration and not isinstance(configuration["version"], str):
        errors.append(Problem("configuration.version", "must be a string"))
    mounts = configuration.get("mounts", {})
    if not isinstance(mounts, dict):
        errors.append(Problem("configuration.mounts", "must be an object keyed by mount name"))
        mounts = {}
    for name, value in mounts.items():
        if name not in mount_names:
            errors.append(Problem(f"configuration.mounts.{name}",
                                  "no mount of that name in the manifest"))
        errors += _check_mount(f"configuration.mounts.{name}", value)
    for name in sorted(mount_names - set(mounts)):
        warnings.append(Problem(f"configuration.mounts.{name}",
                                "the manifest's mount is not configured"))
    spaces = configuration.get("output_workspaces", {})
    if not isinstance(spaces, dict):
        errors.append(Problem("configuration.output_workspaces", "must be an object"))
        spaces = {}
    for key in sorted(set(spaces) - {"default", "outputs"}):
        errors.append(Problem(f"configuration.output_workspaces.{key}",
                              "unknown field (allowed: default, outputs)"))
    if "default" in spaces and not isinstance(spaces["default"], str):
        errors.append(Problem("configuration.output_workspaces.default", "must be a string"))
    outputs = spaces.get("outputs", {})
    if not isinstance(outputs, dict):
        errors.append(Problem("configuration.output_workspaces.outputs", "must be an object"))
        outputs = {}
    for name, value in outputs.items():
        where = f"configuration.output_workspaces.outputs.{name}"
        if name not in output_names:  # workspaces have no effect here: a warning suffices
            warnings.append(Problem(where, "no file output of that name in the manifest "
                                           "(ignored)"))
        if not isinstance(value, str):
            errors.append(Problem(where, "must be a workspace name (a string)"))
    if "priority" in configuration:
        priority = configuration["priority"]
        if isinstance(priority, bool) or not isinstance(priority, int) \
                or not -_INT32 <= priority <= _INT32:
            errors.append(Problem("configuration.priority", "must be an integer"))
    if "max_parameter_chars" in configuration:
        chars = configuration["max_parameter_chars"]
        if isinstance(chars, bool) or not isinstance(chars, int) \
                or not 1 <= chars < MAX_ARG_BYTES:
            errors.append(Problem("configuration.max_parameter_chars",
                                  f"must be an integer from 1 to {MAX_ARG_BYTES - 1}"))
    for key in ("allowed_users", "allowed_groups"):
        names = configuration.get(key)
        if names is not None and (not isinstance(names, list)
                                  or not all(isinstance(n, str) and n for n in names)):
            errors.append(Problem(f"configuration.{key}", "must be a list of names"))
    settings = configuration.get("settings", {})
    if not isinstance(settings, dict):
        errors.append(Problem("configuration.settings", "must be an object keyed by setting name"))
        settings = {}
    for name, value in settings.items():
        where = f"configuration.settings.{name}"
        if name not in setting_names:
            errors.append(Problem(where, "no setting of that name in the manifest"))
        if value is not None and not isinstance(value, str):
            errors.append(Problem(where, "must be a string or null"))
    for name in sorted(setting_names - set(settings)):
        warnings.append(Problem(f"configuration.settings.{name}",
                                "the manifest's setting has no value"))
    return errors, warnings
