"""The single dispatcher lease, fenced by an epoch.

Only one dispatcher may act on the backends at a time. It holds the row of
``dispatcher_lease`` for ``lease_seconds`` (the ``UWS_LEASE_SECONDS`` setting,
:data:`LEASE_SECONDS` by default), renewed every tick; another
dispatcher takes it over once it lapses (or at once when its holder is a dead
process of this host). Every takeover adds one to ``epoch``.

A lapsed lease alone does not stop a holder that was paused (SIGSTOP, a frozen
VM) from resuming mid-tick and submitting a job its successor already took
over. So the holder remembers the epoch it took and checks it
(:meth:`Lease.check`) in the transaction that claims each job, locking the row
so that a takeover waits for that claim to commit; and it checks it again right
before it calls the backend (:meth:`Lease.confirm`), which also extends the
lease: from then on no other dispatcher can take over for ``lease_seconds``,
far more than the call needs.

A holder paused *inside* one of those transactions would keep the row locked,
and its successor would wait on that lock for as long as the pause lasts: the
whole queue stalls behind a frozen process. The same goes for a job's row,
locked by a paused dispatcher's write while the other one (itself resuming
from a pause, mid-tick) waits to write that job before it renews. So on
PostgreSQL every writing transaction of the dispatcher (:meth:`Lease.bound_pause`)
sets ``idle_in_transaction_session_timeout`` to the lease duration (``SET
LOCAL``): the server ends a session that sits that long in it, its locks go,
the successor takes over, and the resumed holder finds its connection closed
and its transaction (never committed) gone.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, text, update
from sqlalchemy.orm import Session

from ..db import Database
from ..models import DispatcherLease
from ..timeutil import as_utc, utcnow

log = logging.getLogger(__name__)
LEASE_SECONDS = 30


def holder_is_dead(holder: str) -> bool:
    """Whether a lease holder is a process of this host that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    """This dispatcher's view of the lease: who it is, and the epoch it holds.

    Parameters
    ----------
    db
        The database holding the lease row.
    holder
        This dispatcher's name (host, pid and a random part: unique).
    seconds
        How long a renewal holds the lease.
    """

    def __init__(self, db: Database, holder: str, seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.holder = holder
        self.seconds = seconds
        self.epoch: int | None = None
        self.held = False
        self._told = False

    def renew(self) -> bool:
        """Take or renew the lease; False (standing by) while another live holder has it."""
        now = utcnow()
        until = now + timedelta(seconds=self.seconds)
        if self.held and self._extended(until):
            return True
        with self.db.write() as session:
            self.bound_pause(session)
            lease = session.get(DispatcherLease, 1, with_for_update=True)
            if lease is None:
                session.add(DispatcherLease(id=1, holder=self.holder, expires_at=until, epoch=1))
                epoch, previous = 1, None
            elif lease.holder == self.holder and lease.epoch == self.epoch:
                lease.expires_at = until
                epoch, previous = lease.epoch, self.holder
            elif as_utc(lease.expires_at) < now or holder_is_dead(lease.holder):
                previous = lease.holder
                epoch = (lease.epoch or 0) + 1
                lease.holder, lease.epoch, lease.expires_at = self.holder, epoch, until
            else:
                if self.held or not self._told:
                    log.warning("dispatcher lease held by %s; standing by", lease.holder)
                    self._told = True
                self.held = False
                return False
        if previous != self.holder:
            log.info("dispatcher %s took the lease (epoch %d) from %s", self.holder, epoch,
                     previous or "nobody")
        self.epoch, self.held = epoch, True
        return True

    def _extended(self, until: datetime) -> bool:
        """Every tick of a holder: push the expiry of a lease still ours in one UPDATE.

        ``False`` when the row is not ours at our epoch any more (taken over): the
        full path of :meth:`renew` then finds out what happened.
        """
        with self.db.write() as session:
            self.bound_pause(session)
            result = session.execute(
                update(DispatcherLease)
                .where(DispatcherLease.id == 1, DispatcherLease.holder == self.holder,
                       DispatcherLease.epoch == self.epoch)
                .values(expires_at=until).execution_options(synchronize_session=False))
            return cast(CursorResult[Any], result).rowcount == 1

    def check(self, session: Session, *, extend: bool = False) -> bool:
        """In the caller's transaction: is the lease still ours, at our epoch?

        Locks the lease row (PostgreSQL ``FOR UPDATE``; SQLite's writer lock
        already serialises), so a takeover cannot commit between this check
        and the caller's commit. ``extend`` renews the lease as well.
        """
        self.bound_pause(session)
        lease = session.get(DispatcherLease, 1, with_for_update=True, populate_existing=True)
        ours = (lease is not None and self.epoch is not None and lease.holder == self.holder
                and lease.epoch == self.epoch)
        if not ours or lease is None:
            self.held = False
            return False
        if extend:
            lease.expires_at = utcnow() + timedelta(seconds=self.seconds)
        return True

    def bound_pause(self, session: Session) -> None:
        """PostgreSQL: end this session if it idles in the transaction longer than the lease.

        Called first in every writing transaction of the dispatcher: one paused
        in it must not keep another waiting on its locks (SQLite has no such
        setting: its single writer waits out ``busy_timeout``).
        """
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT set_config('idle_in_transaction_session_timeout', "
                                 ":ms, true)"), {"ms": str(max(1, int(self.seconds * 1000)))})

    def confirm(self) -> bool:
        """Check and extend the lease in a transaction of its own (right before a backend call)."""
        with self.db.write() as session:
            return self.check(session, extend=True)

    def release(self) -> None:
        """Let the lease lapse now (a clean stop), so a successor need not wait it out."""
        try:
            with self.db.write() as session:
                lease = session.get(DispatcherLease, 1)
                if lease is not None and lease.holder == self.holder:
                    lease.expires_at = utcnow()
        except Exception:
            log.exception("could not release the dispatcher lease")
        self.held = False
