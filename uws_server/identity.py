"""Who is acting: every service call takes one (made by ``auth.authenticator``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Identity:
    """The caller. ``name`` is ``None`` for anonymous callers."""

    name: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    #: The user's own quota overrides (``(name, limit)`` pairs), read with the identity so
    #: that creating a job asks the database nothing more; ``None``: not known here.
    quotas: tuple[tuple[str, int], ...] | None = None

    @property
    def is_anonymous(self) -> bool:
        """Whether no credentials identified the caller."""
        return self.name is None

    @property
    def is_admin(self) -> bool:
        """Whether the caller may do operator actions (job-type registry writes...)."""
        return "admin" in self.roles

    @property
    def read_only(self) -> bool:
        """Whether the caller may only read (anonymous callers under ``UWS_ANONYMOUS=read``)."""
        return "read-only" in self.roles

    @property
    def label(self) -> str:
        """How the caller appears in job history."""
        return self.name or "anonymous"


ANONYMOUS = Identity()
#: An anonymous caller where anonymous access is read-only.
ANONYMOUS_READER = Identity(roles=frozenset({"read-only"}))
#: Who calls when authentication is off (the embedded default, bound to 127.0.0.1):
#: nobody in particular, trusted to operate the service (register job types...).
UNAUTHENTICATED_OPERATOR = Identity(roles=frozenset({"admin"}))
SYSTEM = Identity(name="system", roles=frozenset({"admin"}))
DISPATCHER = Identity(name="dispatcher", roles=frozenset({"admin"}))
