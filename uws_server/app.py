"""The Flask application factory and the start-up steps shared by every entry point."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from .config import Settings, load_settings
from .db import Database, upgrade
from .errors import UnknownJobType
from .notify import WakeBus
from .services import jobtypes, ocps
from .services.jobs import JobService
from .services.waiting import Waiter
from .storage import JobStorage

log = logging.getLogger(__name__)


@dataclass
class Components:
    """The long-lived objects one process shares between the web tier and the dispatcher."""

    settings: Settings
    bus: WakeBus
    db: Database
    storage: JobStorage
    jobs: JobService


def build_components(settings: Settings) -> Components:
    """Connect to the database and the wake-up bus; create nothing on disk but directories."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    bus = WakeBus(settings.run_dir)
    db = Database(settings.effective_database_url, on_commit=bus.publish)
    if not db.is_sqlite and settings.wake_via_database:
        from .notify_pg import PostgresChannel

        bus.attach_channel(PostgresChannel(settings.effective_database_url))
    storage = JobStorage(settings.jobs_dir)
    return Components(settings, bus, db, storage, JobService(settings, db, storage))


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
                from pathlib import Path

                changed += jobtypes.load_directory(session, Path(settings.jobtypes_dir))
    finally:
        db.dispose()
    for line in changed:
        log.info("registered job type %s", line)
    return changed


def create_app(settings: Settings | None = None, components: Components | None = None) -> Flask:
    """Build the web application (the database must already be migrated: see bootstrap)."""
    settings = settings or (components.settings if components else load_settings())
    parts = components or build_components(settings)
    app = Flask(__name__)
    app.config["UWS_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.extensions["uws.components"] = parts
    app.extensions["uws.jobs"] = parts.jobs
    app.extensions["uws.waiter"] = Waiter(parts.jobs, parts.bus, max_wait=settings.max_wait,
                                          max_waiters=settings.max_waiters)
    app.extensions["uws.jobtype_names"] = _names(parts.db)
    app.extensions["uws.require_jobtype"] = _require(parts.db)

    from .api import errors, ocps, uws
    from .api import jobtypes as jobtypes_api

    errors.register(app)
    app.register_blueprint(uws.bp)
    app.register_blueprint(jobtypes_api.bp)  # the job-type registry, /v6
    app.register_blueprint(ocps.bp)  # the Rubin OCPS v1 dialect, /api/v1

    @app.get("/")
    def index() -> tuple[str, int, dict[str, str]]:
        return ("uws-server: UWS 1.1 job lists are under /uws\n", 200,
                {"Content-Type": "text/plain; charset=utf-8"})

    return app


def _names(db: Database) -> Callable[[], list[str]]:
    def names() -> list[str]:
        with db.read() as session:
            return jobtypes.list_names(session)

    return names


def _require(db: Database) -> Callable[[str], None]:
    def require(name: str) -> None:
        with db.read() as session:
            if not jobtypes.job_type_exists(session, name):
                raise UnknownJobType(f"no job list {name!r}: no such job type")

    return require
