"""Wiring: build the long-lived parts of one process once, and hand them out typed.

``serve``, ``worker``, the gunicorn entry points and the tests all build a
process the same way: :func:`bootstrap` once per deployment start (migrate,
register job types), :func:`build_components` once per process, then either
:func:`uws_server.app.create_app` (the web tier) or :func:`build_dispatcher`
(the dispatcher), or both (the embedded ``serve``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .auth.authenticator import Authenticator
from .auth.users import UserService
from .config import Settings
from .db import Database, upgrade
from .jobtypes import service as jobtypes
from .jobtypes.registry import RegistryService
from .notify import WakeBus
from .services import ocps
from .services.batches import BatchService
from .services.grants import GrantService
from .services.jobs import JobService
from .services.validators import JobValidators
from .services.waiting import Waiter
from .storage import JobStorage

if TYPE_CHECKING:
    from .dispatch.dispatcher import Dispatcher

log = logging.getLogger(__name__)


@dataclass
class Components:
    """The long-lived objects one process shares between the web tier and the dispatcher."""

    settings: Settings
    bus: WakeBus
    db: Database
    storage: JobStorage
    jobs: JobService
    waiter: Waiter
    registry: RegistryService
    users: UserService
    auth: Authenticator
    grants: GrantService
    batches: BatchService


def build_components(settings: Settings) -> Components:
    """Connect to the database and the wake-up bus; create nothing on disk but directories."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    bus = WakeBus(settings.run_dir)
    db = Database(settings.effective_database_url, on_commit=bus.publish)
    if not db.is_sqlite and settings.wake_via_database:
        from .notify_pg import PostgresChannel

        bus.attach_channel(PostgresChannel(settings.effective_database_url))
    # a registry change committed by any process of the service: look job types up again
    bus.subscribe(jobtypes.forget_on_wake)
    storage = JobStorage(settings.jobs_dir)
    validators = JobValidators()
    validators.add(ocps.JOB_TYPE, ocps.check_job)  # the operator's allow-lists
    jobs = JobService(settings, db, storage, validators=validators)
    waiter = Waiter(jobs, bus, max_wait=settings.max_wait, max_waiters=settings.max_waiters)
    users = UserService(db)
    auth = Authenticator(users, anonymous=settings.anonymous,
                         proxy_header=settings.trusted_proxy_header,
                         trusted_proxies=settings.trusted_proxies)
    return Components(settings, bus, db, storage, jobs, waiter, RegistryService(db), users,
                      auth, GrantService(db), batches=BatchService(settings, db, jobs))


def bootstrap(settings: Settings) -> list[str]:
    """Migrate the database and register the job types found at start-up.

    Run once per deployment start (``serve``, ``worker``, gunicorn's master),
    not in every web worker. Returns what was registered or revised.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    changed: list[str] = []
    try:
        with db.write() as session:
            changed += ocps.register(session)  # the system job type of /api/v1
            if settings.load_example_jobtypes:
                changed += jobtypes.load_directory(session, jobtypes.EXAMPLES_DIR)
            if settings.jobtypes_dir:
                changed += jobtypes.load_directory(session, Path(settings.jobtypes_dir))
    finally:
        db.dispose()
    for line in changed:
        log.info("registered job type %s", line)
    return changed


def build_dispatcher(components: Components) -> Dispatcher:
    """The dispatcher over the configured executor, woken by the executor and the bus.

    Not started: call ``start()`` (a thread, the embedded ``serve``) or
    ``run_forever()`` (``uws-server worker``).
    """
    from .dispatch.dispatcher import Dispatcher
    from .executors import make_executor

    dispatcher: Dispatcher | None = None

    def kick() -> None:
        if dispatcher is not None:
            dispatcher.kick()

    executor = make_executor(components.settings, on_change=kick)
    dispatcher = Dispatcher(components, executor)
    return dispatcher
