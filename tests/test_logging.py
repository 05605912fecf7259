"""Logging: one set-up for every process, a line per phase change, JSON lines, no secrets."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import update
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_BASE
from tests.fakes import FakeBackend, FakeExecutor
from tests.support import ROOT, free_port, postgres_schema, stop_process
from uws_server.config import Settings
from uws_server.dispatch.dispatcher import Dispatcher
from uws_server.identity import ANONYMOUS
from uws_server.logs import configure_logging
from uws_server.models import DispatcherLease, Job
from uws_server.phases import ExecutionPhase
from uws_server.services.transitions import transition
from uws_server.timeutil import utcnow
from uws_server.wiring import Components

PHASE_LOGGER = "uws_server.services.transitions"
JOB_TOKEN = "tok-" + uuid.uuid4().hex  # a job type's secret setting
DB_PASSWORD = "pw-" + uuid.uuid4().hex  # PostgreSQL's trust authentication ignores it


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as pytest had it after a test that configures logging."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _phase_records(caplog: pytest.LogCaptureFixture, job_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == PHASE_LOGGER
            and getattr(r, "job_id", None) == job_id]


# -- in-process ----------------------------------------------------------------------------
def test_a_phase_change_is_logged_once_its_transaction_commits(components: Components,
                                                               caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    job = components.jobs.create(ANONYMOUS, "echo", [("message", "hi"), ("PHASE", "RUN")], {})
    [queued] = _phase_records(caplog, job.id)
    assert queued.getMessage().startswith(f"job {job.id} PENDING -> QUEUED (type echo, owner ")
    assert (queued.job_type, queued.phase, queued.previous_phase) == ("echo", "QUEUED", "PENDING")
    assert queued.levelno == logging.INFO
    caplog.clear()
    with pytest.raises(RuntimeError), components.db.write() as session:
        row = session.get(Job, job.id)
        assert row is not None
        transition(session, row, ExecutionPhase.ERROR, actor="test", error_type="fatal",
                   error_message="never happened")
        raise RuntimeError("rolled back")
    assert _phase_records(caplog, job.id) == []  # the change never happened: no line
    with components.db.write() as session:
        row = session.get(Job, job.id)
        assert row is not None
        transition(session, row, ExecutionPhase.ERROR, actor="test", error_type="fatal",
                   error_message="the input\nwas refused")
    [error] = _phase_records(caplog, job.id)
    assert error.levelno == logging.WARNING
    assert error.getMessage().endswith("by test): the input was refused")  # one line


def test_the_dispatcher_logs_each_running_job_it_adopts_after_a_restart(
        components: Components, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO)
    backend = FakeBackend()
    first = Dispatcher(components, FakeExecutor(backend))
    job = components.jobs.create(ANONYMOUS, "echo", [("message", "hi"), ("PHASE", "RUN")], {})
    first.tick()
    first.executor.start(job.id)  # type: ignore[attr-defined]
    first.tick()
    adopted = [r for r in caplog.records if "adopted after a restart" in r.getMessage()]
    assert adopted == []  # the first dispatcher submitted the job itself
    with components.db.write() as session:  # the first one died: its lease lapses
        session.execute(update(DispatcherLease).values(expires_at=utcnow() - timedelta(1)))
    second = Dispatcher(components, FakeExecutor(backend))
    second.tick()
    second.tick()
    adopted = [r for r in caplog.records if "adopted after a restart" in r.getMessage()]
    assert len(adopted) == 1
    [record] = adopted
    assert record.job_id == job.id and record.phase == "EXECUTING"
    assert record.backend_id and record.backend_id in record.getMessage()


def test_json_lines_hold_the_fields_on_one_line_and_mask_the_database_password(
        restore_logging: None):
    out = io.StringIO()
    url = f"postgresql+psycopg://uws:{DB_PASSWORD}@db.example.org/uws"
    configure_logging(Settings(database_url=url, log_format="json"), stream=out)
    log = logging.getLogger("uws_server.test")
    log.info("job %s done", "j1", extra={"job_id": "j1", "backend_id": "42", "phase": "ERROR"})
    try:
        raise ValueError(f"cannot connect to {url}")
    except ValueError:
        log.exception("two\nlines")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message", "job_id", "backend_id", "phase"}
    assert (first["level"], first["logger"], first["message"]) == ("INFO", "uws_server.test",
                                                                   "job j1 done")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert second["message"] == "two\nlines" and "ValueError" in second["exception"]
    assert DB_PASSWORD not in out.getvalue() and "uws:***@db.example.org" in out.getvalue()


# -- the production processes --------------------------------------------------------------
@contextlib.contextmanager
def _fresh_database(kind_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the same kind as ``kind_url``, of this test alone, with a password."""
    if kind_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'uws.sqlite3'}"
        return
    with postgres_schema(POSTGRES_BASE, f"uws_log_{uuid.uuid4().hex[:10]}") as url:
        yield make_url(url).set(password=DB_PASSWORD).render_as_string(hide_password=False)


@contextlib.contextmanager
def _production(env: dict[str, str], logs: Path) -> Iterator[str]:
    """The production command (web tier) and ``uws-server worker``; yields the base URL."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv in (("web", ["-m", "gunicorn", "-c", "python:uws_server.gunicorn_conf",
                                    "uws_server.wsgi:app"]),
                           ("worker", ["-m", "uws_server.cli", "worker"])):
            with open(logs / f"{name}.err", "wb") as err, open(logs / f"{name}.out", "wb") as out:
                processes.append(subprocess.Popen([sys.executable, *argv], cwd=ROOT, env=env,
                                                  stdout=out, stderr=err))
            if name == "web":
                base = f"http://127.0.0.1:{env['UWS_PORT']}"
                deadline = time.monotonic() + 60
                while True:
                    with contextlib.suppress(requests.ConnectionError, requests.Timeout):
                        if requests.get(f"{base}/uws", timeout=2).status_code == 200:
                            break
                    assert processes[0].poll() is None, (logs / "web.err").read_text()
                    assert time.monotonic() < deadline, "the web tier did not start"
                    time.sleep(0.1)
        yield base
    finally:
        for process in reversed(processes):
            stop_process(process)


def _failing_type(name: str) -> dict[str, Any]:
    """A job type whose program exits 3 (a documented error) and that has a secret setting."""
    return {
        "docker_image": "fails:1.0.0",
        "manifest": {"seedVersion": "1.0.0", "job": {
            "name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0", "title": "Fails",
            "description": "Refuses its input", "timeout": 60,
            "maintainer": {"name": "An Operator", "email": "ops@example.org"},
            "interface": {"command": '${PYTHON} -c "raise SystemExit(3)"',
                          "settings": [{"name": "DB_TOKEN", "secret": True}]},
            "errors": [{"code": 3, "name": "refused", "title": "Refused",
                        "description": "the input was refused", "category": "job"}]}},
        "configuration": {"settings": {"DB_TOKEN": JOB_TOKEN}},
    }


def _finished(job_url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (phase := requests.get(f"{job_url}/phase", timeout=10).text) not in (
            "COMPLETED", "ERROR", "ABORTED"):
        assert time.monotonic() < deadline, phase
        requests.get(job_url, params={"WAIT": 5, "PHASE": phase}, timeout=30)
    return phase


def _records(path: Path, mode: str) -> list[dict[str, Any]]:
    """The lines of a log file as records; in JSON mode each line must be one JSON object."""
    records = []
    for line in path.read_text().splitlines():
        if mode == "json":
            doc = json.loads(line)
            assert isinstance(doc, dict) and {"time", "level", "logger", "message"} <= set(doc)
            records.append(doc)
        else:
            records.append({"message": line})
    return records


@pytest.mark.parametrize("mode", ["text", "json"])
def test_the_production_web_tier_and_worker_log_jobs_registry_writes_and_phase_changes(
        mode: str, database_url: str, tmp_path: Path):
    name = f"logfail{uuid.uuid4().hex[:8]}"
    with _fresh_database(database_url, tmp_path) as url:
        env = {**os.environ, "UWS_DATABASE_URL": url, "UWS_DATA_DIR": str(tmp_path / "data"),
               "UWS_PORT": str(free_port()), "UWS_POLL_INTERVAL": "0.2", "UWS_LOG_FORMAT": mode,
               "UWS_LOG_LEVEL": "INFO", "GUNICORN_WORKERS": "1",
               "GUNICORN_ACCESSLOG": "-" if mode == "json" else ""}
        with _production(env, tmp_path) as base:
            registered = requests.post(f"{base}/v6/job-types/", json=_failing_type(name),
                                       timeout=30)
            assert registered.status_code == 201, registered.text
            echo = requests.post(f"{base}/uws/echo", data={"message": "hi", "PHASE": "RUN"},
                                 allow_redirects=False, timeout=30).headers["Location"]
            fails = requests.post(f"{base}/uws/{name}", data={"PHASE": "RUN"},
                                  allow_redirects=False, timeout=30).headers["Location"]
            assert (_finished(echo), _finished(fails)) == ("COMPLETED", "ERROR")
            time.sleep(0.5)  # the worker logs after its commit
    echo_id, fails_id = echo.rsplit("/", 1)[1], fails.rsplit("/", 1)[1]
    web, worker = _records(tmp_path / "web.err", mode), _records(tmp_path / "worker.err", mode)
    web_text = "\n".join(r["message"] for r in web)
    worker_text = "\n".join(r["message"] for r in worker)
    # the web tier's own lines: gunicorn starting, the registry write, the job, its RUN
    assert "Booting worker" in web_text
    assert re.search(rf"registry: {name} 1\.0\.0 registered", web_text), web_text
    assert f"created job {echo_id}" in web_text
    assert f"job {echo_id} PENDING -> QUEUED (type echo" in web_text
    # the worker's: each phase the backend reported, completion and the error with its message
    assert f"job {echo_id} QUEUED -> EXECUTING" in worker_text
    assert re.search(rf"job {echo_id} EXECUTING -> COMPLETED \(type echo, owner \S+, "
                     rf"backend \S+, by dispatcher\): exit code 0", worker_text), worker_text
    assert re.search(rf"job {fails_id} EXECUTING -> ERROR \(type {name}, .*\): Refused: the "
                     r"input was refused", worker_text), worker_text
    if mode == "json":
        [done] = [r for r in worker if r.get("job_id") == echo_id and r.get("phase") == "COMPLETED"]
        assert done["job_type"] == "echo" and done["backend_id"] and "owner" in done
        assert done["previous_phase"] == "EXECUTING" and done["logger"] == PHASE_LOGGER
        [error] = [r for r in worker if r.get("job_id") == fails_id and r.get("phase") == "ERROR"]
        assert error["level"] == "WARNING" and error["reason"].startswith("Refused")
        access = _records(tmp_path / "web.out", mode)  # gunicorn's access log, JSON too
        assert any(f"/uws/{name}" in r["message"] for r in access)
    everything = "".join(p.read_text() for p in tmp_path.glob("*.err")) + \
        "".join(p.read_text() for p in tmp_path.glob("*.out"))
    assert JOB_TOKEN not in everything and DB_PASSWORD not in everything
