"""Upgrades keep the data: from the first migration to head, one revision at a time, with
jobs (parameters, results, events) written at every step, on SQLite and PostgreSQL.

The rows are written with the tables as each revision left them (reflected, not the
models of today), so the test keeps working when later revisions are added: a column a
future revision adds NOT NULL without a server default gets a plain value here, which is
what that revision's own upgrade would have to do for existing rows.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from lxml import etree

from tests.support import assert_valid_uws
from uws_server.app import create_app
from uws_server.config import Settings
from uws_server.resources import EXAMPLE_MANIFESTS_DIR, PACKAGE_DIR
from uws_server.schema_versions import current, head, history

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
T0 = datetime(2026, 1, 1, 12, 0, 0)


def upgrade_to(url: str, revision: str) -> None:
    """Migrate the database at ``url`` to ``revision`` (not further)."""
    config = Config()
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def _filler(column: sa.Column) -> Any:
    """A plain value for a NOT NULL column this test does not know about."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer | sa.Numeric):
        return 0
    if isinstance(kind, sa.DateTime):
        return T0
    if isinstance(kind, sa.JSON):
        return {}
    return ""


def _row(table: sa.Table, **values: Any) -> dict[str, Any]:
    for column in table.columns:
        if (column.name not in values and not column.nullable and column.server_default is None
                and not (column.primary_key and isinstance(column.type, sa.Integer))):
            values[column.name] = _filler(column)
    return values


def _write_generation(engine: sa.Engine, step: int, revision: str) -> str:
    """One COMPLETED echo job with a parameter, a result and its events; its id."""
    meta = sa.MetaData()
    meta.reflect(engine)
    t = meta.tables
    job_id = f"{step:02d}{uuid.uuid4().hex[:30]}"
    when = T0 + timedelta(hours=step)
    with engine.begin() as conn:
        revision_id = conn.execute(sa.select(t["job_type_revisions"].c.id)).scalar()
        if revision_id is None:
            type_id = conn.execute(t["job_types"].insert().values(**_row(
                t["job_types"], name="echo", version="1.0.0", title="Echo", description="",
                is_published=True, is_active=True, is_paused=False, is_system=False,
                max_tries=3, docker_image="", configuration={}, revision_num=1, created=T0,
                last_modified=T0))).inserted_primary_key[0]
            manifest = json.loads((EXAMPLE_MANIFESTS_DIR / "echo.json").read_text())
            revision_id = conn.execute(t["job_type_revisions"].insert().values(**_row(
                t["job_type_revisions"], job_type_id=type_id, revision_num=1,
                manifest=manifest, docker_image="", created=T0))).inserted_primary_key[0]
        conn.execute(t["jobs"].insert().values(**_row(
            t["jobs"], id=job_id, job_type_name="echo", revision_id=revision_id, owner_id=None,
            run_id=f"written at {revision}", phase="COMPLETED", creation_time=when,
            start_time=when + timedelta(seconds=1), end_time=when + timedelta(seconds=2),
            destruction_time=when + timedelta(days=3650), execution_duration=60, priority=0,
            job_info={}, executor="local", backend_id=f"local-{step}", cancel_requested=False,
            duration_exceeded=False, duration_dirty=False, release_requested=False, tries=1,
            deleted=False)))
        conn.execute(t["job_parameters"].insert().values(**_row(
            t["job_parameters"], job_id=job_id, position=0, name="message",
            value=f"generation {step}", is_file=False)))
        conn.execute(t["job_results"].insert().values(**_row(
            t["job_results"], job_id=job_id, position=0, result_id="result",
            path="outputs/result.txt", mime_type="text/plain", size=12)))
        for n, (old, new) in enumerate([(None, "QUEUED"), ("QUEUED", "EXECUTING"),
                                        ("EXECUTING", "COMPLETED")]):
            conn.execute(t["job_events"].insert().values(**_row(
                t["job_events"], job_id=job_id, at=when + timedelta(seconds=n), from_phase=old,
                to_phase=new, actor="upgrade-test", note=revision)))
    return job_id


def test_every_upgrade_from_the_first_revision_keeps_jobs_parameters_results_and_events(
        empty_url, tmp_path):
    revisions = [revision.id for revision in reversed(history())]
    assert revisions[0] == "0001" and revisions[-1] == head()
    engine = sa.create_engine(empty_url)
    written: dict[str, str] = {}
    try:
        for step, revision in enumerate(revisions):
            upgrade_to(empty_url, revision)
            assert current(empty_url) == revision
            written[_write_generation(engine, step, revision)] = revision
        with engine.connect() as conn:
            events = conn.execute(sa.text(
                "SELECT job_id, COUNT(*) FROM job_events GROUP BY job_id")).all()
            assert dict(events) == dict.fromkeys(written, 3)
            kinds = conn.execute(sa.text("SELECT DISTINCT kind FROM job_events")).scalars()
            assert set(kinds) == {"phase"}  # 0003's new column, filled for the old rows
    finally:
        engine.dispose()
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=empty_url))
    client = app.test_client()
    for step, (job_id, revision) in enumerate(written.items()):
        response = client.get(f"/uws/echo/{job_id}")
        assert response.status_code == 200, response.data
        job = assert_valid_uws(response.data)
        assert job.findtext(f"{UWS}phase") == "COMPLETED"
        assert job.findtext(f"{UWS}runId") == f"written at {revision}"
        parameters = {p.get("id"): p.text for p in job.iter(f"{UWS}parameter")}
        assert parameters == {"message": f"generation {step}"}
        assert [r.get("id") for r in job.iter(f"{UWS}result")] == ["result"]
        assert job.findtext(f"{UWS}startTime", "").startswith("2026-01-01T")
    listed = etree.fromstring(client.get("/uws/echo").data)
    assert {ref.get("id") for ref in listed.iter(f"{UWS}jobref")} == set(written)
    app.extensions["uws"].db.dispose()
