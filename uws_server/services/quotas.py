"""Per-user limits: active jobs, stored jobs, upload bytes per job and in total.

Defaults come from settings (``UWS_QUOTA_*``, 0 = no limit) and a user's own
overrides (``uws-server user quota``). Checked inside the transaction that
would pass them, so a refused request writes nothing. Admins and anonymous
callers have no quotas (anonymous writes are an operator's explicit choice).
Limits are the owner's: running a job shared with you counts against its owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..errors import QuotaExceeded
from ..identity import Identity
from ..models import Job, User
from ..phases import ExecutionPhase

#: The phases that count as active: handed to, or waiting for, a backend.
ACTIVE_PHASES = (ExecutionPhase.QUEUED.value, ExecutionPhase.EXECUTING.value)


@dataclass(frozen=True)
class Quotas:
    """One user's limits; 0 means unlimited."""

    active_jobs: int = 0
    stored_jobs: int = 0
    upload_bytes_per_job: int = 0
    upload_bytes_total: int = 0


def quotas_for(session: Session, settings: Settings, owner: str | Identity | None
               ) -> Quotas | None:
    """The limits of ``owner``'s jobs, or ``None`` when none apply (admins, anonymous jobs).

    An :class:`Identity` that carries its user's overrides needs no query.
    """
    if isinstance(owner, Identity):
        if owner.is_admin or owner.name is None:
            return None
        if owner.quotas is not None:
            return _limits(settings, dict(owner.quotas))
        owner = owner.name
    if owner is None:
        return None
    row = session.execute(select(User.is_admin, User.quotas).where(User.name == owner)).first()
    if row is not None and row.is_admin:
        return None
    return _limits(settings, (row.quotas if row is not None else None) or {})


def _limits(settings: Settings, overrides: dict[str, int]) -> Quotas:
    defaults = Quotas(settings.quota_active_jobs, settings.quota_stored_jobs,
                      settings.quota_upload_bytes_per_job, settings.quota_upload_bytes_total)
    return Quotas(**{name: int(overrides.get(name, getattr(defaults, name)))
                     for name in Quotas.__dataclass_fields__})


def _over(limit: int, current: int, adding: int) -> bool:
    return limit > 0 and current + adding > limit


def check_new_jobs(session: Session, settings: Settings, identity: Identity, *, count: int = 1,
                   upload_bytes: int = 0, starting: bool = False) -> None:
    """Refuse ``count`` new jobs of the caller (with their uploads) that would pass a limit.

    Raises
    ------
    QuotaExceeded
        Naming the limit and the current count.
    """
    quotas = quotas_for(session, settings, identity)
    if quotas is None:
        return
    owner = identity.name
    owned = (Job.owner_id == owner, Job.deleted.is_(False))
    if _over(quotas.upload_bytes_per_job, 0, upload_bytes):
        raise QuotaExceeded(f"quota: uploads of {upload_bytes} bytes per job over the limit "
                            f"of {quotas.upload_bytes_per_job} for {owner}")
    if quotas.stored_jobs:
        stored = session.scalar(select(func.count()).select_from(Job).where(*owned)) or 0
        if _over(quotas.stored_jobs, stored, count):
            raise QuotaExceeded(f"quota: {owner} stores {stored} jobs; the limit is "
                                f"{quotas.stored_jobs}")
    if quotas.upload_bytes_total and upload_bytes:
        total = session.scalar(select(func.coalesce(func.sum(Job.upload_bytes), 0))
                               .where(*owned)) or 0
        if _over(quotas.upload_bytes_total, int(total), upload_bytes):
            raise QuotaExceeded(f"quota: {owner} stores {total} bytes of uploads; "
                                f"the limit is {quotas.upload_bytes_total}")
    if starting:
        check_start(session, settings, identity, count=count)


def check_start(session: Session, settings: Settings, owner: str | Identity | None, *,
                count: int = 1) -> None:
    """Refuse starting ``count`` jobs of ``owner`` that would pass their active-jobs limit."""
    quotas = quotas_for(session, settings, owner)
    if quotas is None or not quotas.active_jobs:
        return
    if isinstance(owner, Identity):
        owner = owner.name
    active = session.scalar(select(func.count()).select_from(Job).where(
        Job.owner_id == owner, Job.deleted.is_(False),
        Job.phase.in_(ACTIVE_PHASES))) or 0
    if _over(quotas.active_jobs, active, count):
        raise QuotaExceeded(f"quota: {owner} has {active} active jobs; the limit is "
                            f"{quotas.active_jobs}")
