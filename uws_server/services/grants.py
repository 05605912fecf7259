"""Sharing a job with another user: grants of READ, WRITE and EXECUTE.

Only the owner (or an admin) changes who else may do what; the owner always
holds ALL and cannot be given less. Every change is in the job's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth import policy
from ..auth.permissions import Permission, parse_permission, permission_name
from ..auth.users import check_user_name
from ..db import Database
from ..errors import InvalidParameter, JobNotFound, PermissionDenied, ResourceNotFound
from ..identity import Identity
from ..models import Job, JobGrant, User
from ..timeutil import utcnow
from . import history


@dataclass(frozen=True)
class Grant:
    """One user's permission on one job."""

    job_id: str
    username: str
    permission: str
    granted_by: str | None
    granted_at: datetime | None


class GrantService:
    """Who may do what on a job.

    Parameters
    ----------
    db
        The database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def _job(self, session: Session, identity: Identity, job_id: str, needed: Permission
             ) -> tuple[Job, Permission]:
        row = session.execute(
            select(Job, policy.grant_bits_column(identity).label("granted"))
            .where(Job.id == job_id, Job.deleted.is_(False))).first()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}")
        held = policy.require(identity, row.Job.owner_id, row.granted, needed,
                              what=f"job {job_id!r}")
        return row.Job, held

    def list(self, identity: Identity, job_id: str) -> list[Grant]:
        """The owner's ALL first, then every grant (needs READ)."""
        with self.db.read() as session:
            job, _ = self._job(session, identity, job_id, Permission.READ)
            grants = [Grant(job.id, job.owner_id, "ALL", None, job.creation_time)
                      ] if job.owner_id else []
            for grant in session.scalars(select(JobGrant).where(JobGrant.job_id == job_id)
                                         .order_by(JobGrant.username)):
                grants.append(Grant(job_id, grant.username, permission_name(grant.permission),
                                    grant.granted_by, grant.granted_at))
            return grants

    def get(self, identity: Identity, job_id: str, username: str) -> Grant:
        """One user's permission on the job (``NONE`` when they hold nothing)."""
        for grant in self.list(identity, job_id):
            if grant.username == username:
                return grant
        return Grant(job_id, username, "NONE", None, None)

    def share(self, identity: Identity, job_id: str, username: str, permission: str) -> Grant:
        """Set ``username``'s permission on the job; ``NONE`` or empty removes it.

        Raises
        ------
        PermissionDenied
            The caller is neither the owner nor an admin.
        InvalidParameter
            Unknown permission, a malformed or unknown user, or the owner themself.
        """
        bits = parse_permission(permission)
        check_user_name(username)
        with self.db.write() as session:
            job, _ = self._job(session, identity, job_id, Permission.READ)
            if not (identity.is_admin or (identity.name is not None
                                          and identity.name == job.owner_id)):
                raise PermissionDenied(f"only the owner of job {job_id} may share it")
            if username == job.owner_id:
                raise InvalidParameter(f"{username} owns job {job_id} and always holds ALL")
            if session.scalars(select(User.id).where(User.name == username)).first() is None:
                raise ResourceNotFound(f"no user {username!r}")
            grant = session.get(JobGrant, (job_id, username))
            now = utcnow()
            if not bits:
                if grant is not None:
                    session.delete(grant)
            elif grant is None:
                session.add(JobGrant(job_id=job_id, username=username, permission=int(bits),
                                     granted_by=identity.label, granted_at=now))
            else:
                grant.permission, grant.granted_by, grant.granted_at = (
                    int(bits), identity.label, now)
            history.record(session, job, "grant", actor=identity.label,
                           note=f"{username}: {permission_name(bits)}")
        return Grant(job_id, username, permission_name(bits), identity.label, now)
