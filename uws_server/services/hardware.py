"""A batch's hardware request: cores, memory and named shared filesystems, checked.

``cpu`` (whole cores) and ``memory`` (MiB) become each job's resource request
(``dispatch.spec`` puts them in :class:`~uws_server.executors.base.Resources`,
over the manifest's defaults). ``filesystems`` are names the operator maps to
paths (``UWS_FILESYSTEMS="scratch=/mnt/scratch,data=/data"``); a job gets each
one it asked for as ``UWS_FS_<NAME>`` in its environment.

Limits, the smallest that is set wins: the operator's ``UWS_MAX_CPU`` and
``UWS_MAX_MEMORY_MIB``, the job type configuration's ``max_cpu`` and
``max_memory_mib``, and the manifest's resource scalars ``maxCpus`` and
``maxMem``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..errors import InvalidParameter
from ..jobtypes.seed import JobTypeInterface

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
#: The environment variable prefix a job finds its filesystems' paths under.
ENV_PREFIX = "UWS_FS_"


def parse_filesystems(text: str) -> dict[str, str]:
    """``"scratch=/mnt/scratch, data=/data"`` as ``{name: path}``.

    Raises
    ------
    ValueError
        For an entry without ``=``, a name that is not a short identifier, a path that is
        not absolute, or a name given twice.
    """
    mapping: dict[str, str] = {}
    for entry in (part.strip() for part in re.split(r"[,\s]+", text) if part.strip()):
        name, sep, path = entry.partition("=")
        if not sep or not _NAME.match(name):
            raise ValueError(f"expected name=/absolute/path entries, got {entry!r}")
        if not path.startswith("/"):
            raise ValueError(f"{name}: the path must be absolute, got {path!r}")
        if name in mapping:
            raise ValueError(f"{name}: given twice")
        mapping[name] = path
    return mapping


@dataclass(frozen=True)
class Hardware:
    """What each job of a batch asks for; ``None``: the manifest's default."""

    cpu: int | None = None
    memory_mib: int | None = None
    filesystems: tuple[str, ...] = ()


def _positive_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameter(f"hardware.{name}: expected a whole number of at least 1, "
                               f"got {value!r}")
    return value


def parse_hardware(value: Any, settings: Settings) -> Hardware:
    """The ``hardware`` object of a request, its filesystems known to the operator.

    Raises
    ------
    InvalidParameter
        Naming the field: not an object, an unknown key, a count that is not a positive
        whole number, an unknown filesystem.
    """
    if value is None:
        return Hardware()
    if not isinstance(value, dict):
        raise InvalidParameter("hardware: expected an object with cpu, memory, filesystems")
    unknown = sorted(set(value) - {"cpu", "memory", "filesystems"})
    if unknown:
        raise InvalidParameter(f"hardware.{unknown[0]}: unknown field (hardware takes cpu, "
                               "memory, filesystems)")
    names = value.get("filesystems") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidParameter("hardware.filesystems: expected a list of filesystem names")
    known = parse_filesystems(settings.filesystems)
    for name in names:
        if name not in known:
            offered = ", ".join(sorted(known)) or "none are configured"
            raise InvalidParameter(f"hardware.filesystems: unknown filesystem {name[:64]!r} "
                                   f"(known: {offered})")
    return Hardware(_positive_int("cpu", value.get("cpu")),
                    _positive_int("memory", value.get("memory")),
                    tuple(dict.fromkeys(names)))


def _limit(candidates: list[tuple[float | None, str]]) -> tuple[float, str] | None:
    found = [(float(v), source) for v, source in candidates
             if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0]
    return min(found) if found else None


def check_limits(hardware: Hardware, interface: JobTypeInterface,
                 configuration: Mapping[str, Any] | None, settings: Settings) -> None:
    """Refuse a request over the job type's or the operator's limits (400 naming the limit)."""
    config = configuration or {}
    for field, asked, setting, key, scalar in (
            ("cpu", hardware.cpu, settings.max_cpu, "max_cpu", "maxCpus"),
            ("memory", hardware.memory_mib, settings.max_memory_mib, "max_memory_mib",
             "maxMem")):
        if asked is None:
            continue
        found = _limit([(setting, f"UWS_{key.upper()}"),
                        (config.get(key), f"the job type's {key}"),
                        (interface.resources.get(scalar), f"the manifest's {scalar}")])
        if found is not None and asked > found[0]:
            raise InvalidParameter(f"hardware.{field}: {asked} is over the limit of "
                                   f"{found[0]:g} ({found[1]})")


def effective(hardware: Hardware, interface: JobTypeInterface) -> tuple[float | None,
                                                                         float | None]:
    """``(cpu, memory)`` each job gets: as asked, else the manifest's ``cpus``/``mem``."""
    cpu = hardware.cpu if hardware.cpu is not None else interface.resources.get("cpus")
    memory = (hardware.memory_mib if hardware.memory_mib is not None
              else interface.resources.get("mem"))
    return cpu, (math.ceil(memory) if memory is not None else None)


def filesystem_env(names: list[str] | None, configured: str) -> dict[str, str]:
    """``UWS_FS_<NAME>`` → path for each filesystem a job asked for that ``configured``
    (``UWS_FILESYSTEMS``) still maps."""
    if not names:
        return {}
    known = parse_filesystems(configured)
    return {ENV_PREFIX + name.upper(): known[name] for name in names if name in known}
