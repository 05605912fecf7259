"""Per-job permissions, named as Agave names them.

A grant is a set of three bits. READ sees the job (its document, parameters,
results, history); WRITE changes parameters, duration and destruction and may
delete it; EXECUTE runs, aborts and resubmits it. The owner and admins hold ALL.
"""

from __future__ import annotations

import enum

from ..errors import InvalidParameter


class Permission(enum.IntFlag):
    """The bits of a grant."""

    NONE = 0
    READ = 1
    WRITE = 2
    EXECUTE = 4
    ALL = READ | WRITE | EXECUTE


#: Every grant name a client may send, and the bits it stands for.
GRANT_NAMES: dict[str, Permission] = {
    "NONE": Permission.NONE,
    "READ": Permission.READ,
    "WRITE": Permission.WRITE,
    "EXECUTE": Permission.EXECUTE,
    "READ_WRITE": Permission.READ | Permission.WRITE,
    "READ_EXECUTE": Permission.READ | Permission.EXECUTE,
    "WRITE_EXECUTE": Permission.WRITE | Permission.EXECUTE,
    "ALL": Permission.ALL,
}
_NAME_OF = {bits: name for name, bits in GRANT_NAMES.items()}


def parse_permission(text: str | None) -> Permission:
    """The bits of a grant name (case-insensitive); empty or ``NONE`` removes a grant.

    Raises
    ------
    InvalidParameter
        For any other name, listing the accepted ones.
    """
    key = (text or "").strip().upper() or "NONE"
    if key not in GRANT_NAMES:
        raise InvalidParameter(f"permission: unknown permission {text!r}; expected one of "
                               + ", ".join(GRANT_NAMES))
    return GRANT_NAMES[key]


def permission_name(bits: int) -> str:
    """The Agave name of a set of bits (``READ_WRITE``, ``ALL``...)."""
    return _NAME_OF[Permission(bits & Permission.ALL)]
