"""An idle dispatcher tick reads the jobs table through indexes only, on both databases.

The figure itself (CPU of an idle dispatcher over 100,000 finished jobs) is measured
in ``bench/`` (part ``many``); these tests pin down why it does not grow with the
table: every statement a tick sends that reads ``jobs`` is planned without a full
scan of it, once the service has kept the planner's statistics current.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.dispatch.statistics import StatisticsKeeper
from uws_server.executors import make_executor
from uws_server.models import Job, JobType, JobTypeRevision
from uws_server.timeutil import utcnow
from uws_server.wiring import Components

FINISHED = 5000


def _fill_finished(parts: Components, count: int) -> None:
    """``count`` COMPLETED echo jobs, written as the bench writes them (multi-row INSERT)."""
    with parts.db.engine.begin() as connection:
        revision = connection.execute(
            select(JobTypeRevision.id).join(JobType).where(JobType.name == "echo")
            .order_by(JobTypeRevision.revision_num.desc()).limit(1)).scalar_one()
        start = utcnow() - timedelta(days=1)
        connection.execute(Job.__table__.insert(), [{
            "id": uuid.uuid4().hex, "job_type_name": "echo", "revision_id": revision,
            "phase": "COMPLETED", "creation_time": start + timedelta(seconds=index),
            "end_time": start + timedelta(seconds=index),
            "destruction_time": start + timedelta(days=30), "execution_duration": 60,
            "priority": 0, "job_info": {}, "tries": 1, "cancel_requested": False,
            "duration_exceeded": False, "duration_dirty": False, "release_requested": False,
            "deleted": False, "upload_bytes": 0,
        } for index in range(count)])


def _statements_of_a_tick(parts: Components, dispatcher: Dispatcher, *,
                          reading_jobs: bool = True) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
               _many: bool) -> None:
        reads_jobs = statement.lstrip().upper().startswith("SELECT") and " jobs" in statement
        if reads_jobs or not reading_jobs:
            seen.append((statement, parameters))

    event.listen(parts.db.engine, "before_cursor_execute", record)
    try:
        dispatcher.tick()
    finally:
        event.remove(parts.db.engine, "before_cursor_execute", record)
    return seen


def _full_scans(parts: Components, statements: list[tuple[str, Any]]) -> list[str]:
    """The statements whose plan reads every row of ``jobs``."""
    found = []
    with parts.db.engine.connect() as connection:
        for statement, parameters in statements:
            if parts.db.is_sqlite:
                plan = [row[-1] for row in connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters)]
                if any(line.startswith("SCAN jobs") and "USING" not in line for line in plan):
                    found.append(f"{statement} -> {plan}")
            else:
                plan = [row[0] for row in connection.exec_driver_sql(
                    "EXPLAIN " + statement, parameters)]
                if any("Seq Scan on jobs" in line for line in plan):
                    found.append(f"{statement} -> {plan}")
    return found


def test_idle_tick_reads_jobs_through_indexes_only(components):
    _fill_finished(components, FINISHED)
    dispatcher = Dispatcher(components, make_executor(components.settings,
                                                      on_change=lambda *_: None))
    dispatcher.tick()  # the first tick takes the lease and brings the statistics up to date
    statements = _statements_of_a_tick(components, dispatcher)
    assert statements, "the tick read nothing"
    assert _full_scans(components, statements) == []


def test_statistics_keeper_analyses_a_freshly_filled_table_then_waits(components):
    keeper = StatisticsKeeper(components.db)
    _fill_finished(components, 600)
    assert keeper.maybe_run() is True
    assert keeper.maybe_run() is False  # not due again before its cadence
    if not components.db.is_sqlite:
        with components.db.engine.connect() as connection:
            analysed = connection.exec_driver_sql(
                "SELECT last_analyze FROM pg_stat_user_tables "
                "WHERE relname = 'jobs' AND schemaname = current_schema()").scalar()
        assert analysed is not None


def test_idle_tick_sends_a_fixed_few_statements_whatever_the_table_holds(components):
    """The lease pushed on, one look at every flag, the active jobs: nothing per idle step."""
    _fill_finished(components, 200)
    dispatcher = Dispatcher(components, make_executor(components.settings,
                                                      on_change=lambda *_: None))
    dispatcher.tick()
    dispatcher.statistics.maybe_run = lambda: False  # its once-a-minute look is not per tick
    statements = [text for text, _ in
                  _statements_of_a_tick(components, dispatcher, reading_jobs=False)
                  if not text.startswith("BEGIN")]  # SQLite's own, per transaction
    lease = [s for s in statements if "dispatcher_lease" in s]
    jobs = [s for s in statements if " jobs" in s]
    config = [s for s in statements if "set_config" in s]  # PostgreSQL: the lease's pause bound
    assert len(lease) == 1 and lease[0].lstrip().upper().startswith("UPDATE")
    assert len(jobs) <= 2, jobs  # the flags (EXISTS for every step), the active jobs
    assert len(statements) == len(lease) + len(jobs) + len(config), statements
