"""Keep the planner's statistics current, so that the job tables' indexes get used.

PostgreSQL chooses between an index and a sequential scan from its statistics;
a table filled faster than autovacuum analyses it (a bulk import, a burst of
batch submissions, a fresh restore) is planned as if it were empty, and the
dispatcher's partial indexes and the job lists' composite indexes are ignored
(measured: ``LAST=100`` among 100,000 jobs 16-23x a single GET before an
``ANALYZE``, ~2x after). The dispatcher therefore checks, once a minute, how many
rows changed since the last analysis and analyses the job tables itself when
that is more than a tenth of them (or they never were analysed).

SQLite plans these queries from the indexes alone (no ``sqlite_stat1`` is ever
needed for them); ``PRAGMA optimize``, which SQLite recommends running from
time to time, is run once an hour and keeps any statistics an operator made
from going stale.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import text

from ..db import Database

log = logging.getLogger(__name__)

#: How often the PostgreSQL change counters are looked at.
CHECK_SECONDS = 60.0
#: How often SQLite runs ``PRAGMA optimize``.
SQLITE_OPTIMIZE_SECONDS = 3600.0
#: Analyse when this share of the jobs table changed since the last analysis ...
CHANGED_SHARE = 0.1
#: ... and at least this many rows.
MIN_CHANGED_ROWS = 500

TABLES = ("jobs", "job_parameters", "job_results", "job_events", "job_grants")

_PG_STATE = text(
    "SELECT n_live_tup, n_mod_since_analyze, "
    "coalesce(last_analyze, last_autoanalyze) IS NOT NULL AS analysed "
    "FROM pg_stat_user_tables WHERE relname = 'jobs' AND schemaname = current_schema()")


class StatisticsKeeper:
    """Analyses the job tables when they changed enough (see the module docstring).

    Parameters
    ----------
    db
        The service's database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._next = 0.0

    def maybe_run(self) -> bool:
        """Check (when due) and analyse if needed; whether an analysis ran."""
        now = time.monotonic()
        if now < self._next:
            return False
        if self.db.is_sqlite:
            self._next = now + SQLITE_OPTIMIZE_SECONDS
            with self.db.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA optimize")
            return True
        self._next = now + CHECK_SECONDS
        return self._postgresql()

    def _postgresql(self) -> bool:
        with self.db.engine.connect() as connection:
            row = connection.execute(_PG_STATE).one_or_none()
            if row is None:
                return False
            live, changed, analysed = int(row[0] or 0), int(row[1] or 0), bool(row[2])
            if analysed and changed < max(MIN_CHANGED_ROWS, CHANGED_SHARE * live):
                return False
            started = time.monotonic()
            connection.exec_driver_sql("ANALYZE " + ", ".join(TABLES))
            connection.commit()
        log.info("analysed the job tables (%d rows changed of %d) in %.0f ms", changed, live,
                 1000 * (time.monotonic() - started))
        return True
