"""The one access rule, given both as a Python check and as the SQL filter of lists.

A caller's permission on a job:

- admins, and the job's owner: ALL;
- a job without an owner (made in anonymous mode): ALL for anonymous callers
  where anonymous writes are allowed, READ where anonymous reads are;
- anybody else: the bits of their grant on the job, if any.

A job the caller holds no bit on does not exist for them (404, never 403, so
that ids leak nothing); a job they hold some bits on but not the one needed
is a 403. Lists show the jobs the caller may READ — :func:`readable` is the
same rule as :func:`permission_on` written in SQL, so a list and a GET agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, select, true

from ..errors import JobNotFound, PermissionDenied
from ..identity import Identity
from ..models import Job, JobGrant
from .permissions import Permission, permission_name


def permission_on(identity: Identity, owner_id: str | None, granted: int | None) -> Permission:
    """The caller's permission on a job owned by ``owner_id`` with grant bits ``granted``."""
    if identity.is_admin:
        return Permission.ALL
    if identity.name is None:
        if owner_id is not None:
            return Permission.NONE
        return Permission.READ if identity.read_only else Permission.ALL
    if owner_id == identity.name:
        return Permission.ALL
    return Permission(int(granted or 0) & Permission.ALL)


def require(identity: Identity, owner_id: str | None, granted: int | None, needed: Permission,
            *, what: str) -> Permission:
    """Check ``needed`` on a job, raising what the caller should be told.

    Raises
    ------
    JobNotFound
        The caller holds nothing on the job: it does not exist for them.
    PermissionDenied
        The caller sees the job but lacks ``needed``; the message names it.
    """
    held = permission_on(identity, owner_id, granted)
    if not held:
        raise JobNotFound(f"no {what}")
    if needed & ~held:
        raise PermissionDenied(f"{identity.label} holds {permission_name(held)} on {what}; "
                               f"this needs {permission_name(needed)}")
    return held


def readable(identity: Identity, job: Any = Job) -> ColumnElement[bool]:
    """The SQL condition "the caller may READ this job", over ``job`` (the ``jobs`` table)."""
    if identity.is_admin:
        return true()
    if identity.name is None:
        return job.owner_id.is_(None)
    grant = exists(select(JobGrant.job_id).where(
        JobGrant.job_id == job.id, JobGrant.username == identity.name,
        JobGrant.permission.op("&")(int(Permission.READ)) != 0))
    return (job.owner_id == identity.name) | grant


def grant_bits_column(identity: Identity, job: Any = Job) -> Any:
    """A scalar subquery giving the caller's grant bits on ``job`` (NULL without a grant).

    Lets a job read fetch the grant in the same statement (one round trip).
    """
    if identity.name is None:
        return select(JobGrant.permission).where(false()).scalar_subquery()
    return (select(JobGrant.permission)
            .where(and_(JobGrant.job_id == job.id, JobGrant.username == identity.name))
            .scalar_subquery())
