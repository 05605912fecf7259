"""/health and /ready: JSON, public, cheap, nothing secret; 503 naming the failed check."""

from __future__ import annotations

import time

import requests
import sqlalchemy

from uws_server import __version__
from uws_server.app import create_app
from uws_server.db import Database
from uws_server.health import BackendHealth, Readiness


def test_health_answers_ok_with_the_version_without_credentials(server):
    response = requests.get(f"{server.url}/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}
    assert response.headers["Cache-Control"] == "no-store"


def wait_ready(url: str, timeout: float = 30) -> requests.Response:
    """Poll ``/ready`` as an orchestrator does: a server just started may not hold the
    dispatcher lease yet."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(f"{url}/ready", timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_ready_passes_every_check_on_a_running_service(server):
    response = wait_ready(server.url)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["status"] == "ready" and doc["failed"] == [] and doc["version"] == __version__
    assert set(doc["checks"]) == {"database", "migrations", "dispatcher", "backend"}
    assert all(check["ok"] for check in doc["checks"].values())
    assert doc["checks"]["migrations"]["current"] == doc["checks"]["migrations"]["head"]
    assert doc["checks"]["dispatcher"]["lease_expires_in"] > 0


def test_ready_shows_no_database_url_holder_or_path(server):
    text = requests.get(f"{server.url}/ready", timeout=10).text
    for secret in ("postgresql", "sqlite", str(server.data_dir), "://"):
        assert secret not in text, (secret, text)


def test_ready_is_503_naming_the_dispatcher_when_none_holds_the_lease(client):
    # the in-process application runs no dispatcher
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    assert response.json["failed"] == ["dispatcher"]


def test_ready_is_503_naming_the_migrations_when_the_schema_is_behind(components):
    with components.db.engine.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = '0002'"))
    response = create_app(components=components).test_client().get("/ready")
    assert response.status_code == 503
    assert "migrations" in response.json["failed"]
    assert response.json["checks"]["migrations"]["current"] == "0002"


def test_ready_is_503_naming_the_backend_the_dispatcher_could_not_reach(components):
    BackendHealth(components.settings.run_dir, "slurm").failed("poll")
    response = create_app(components=components).test_client().get("/ready")
    assert response.status_code == 503
    backend = response.json["checks"]["backend"]
    assert backend["ok"] is False and backend["state"] == "unreachable"
    assert backend["operation"] == "poll" and backend["backend"] == "slurm"
    BackendHealth(components.settings.run_dir, "slurm").answered()
    again = create_app(components=components).test_client().get("/ready")
    assert again.json["checks"]["backend"]["ok"] is True


def test_a_database_that_does_not_answer_fails_the_database_check_without_raising(tmp_path):
    db = Database("postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none")
    report = Readiness(db, tmp_path).report()
    assert not report.ready
    assert report.failed[:2] == ["database", "migrations"]
    assert "hunter2" not in repr(report)
    db.dispose()


def test_a_report_is_reused_within_its_time_to_live(components):
    checker = Readiness(components.db, components.settings.run_dir, ttl=60)
    first = checker.report()
    assert checker.report() is first
    assert Readiness(components.db, components.settings.run_dir, ttl=0).report() is not first
