"""The ``uws-server`` command and the production entry points (gunicorn + worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support import ROOT, free_port

EXAMPLE = ROOT / "uws_server" / "jobtypes" / "manifests" / "echo.json"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "uws_server.cli", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env={**os.environ, **(env or {})})


def test_jobtype_validate_accepts_a_valid_manifest():
    done = _cli("jobtype", "validate", str(EXAMPLE))
    assert done.returncode == 0
    assert "valid" in done.stdout


def test_jobtype_validate_names_each_problem_and_fails(tmp_path):
    manifest = json.loads(EXAMPLE.read_text())
    manifest["job"]["jobVersion"] = "one"
    del manifest["job"]["interface"]["command"]
    manifest["job"]["interface"]["inputs"]["json"][0]["type"] = "text"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(manifest))
    done = _cli("jobtype", "validate", str(path))
    assert done.returncode == 1
    assert "error: job.jobVersion:" in done.stdout
    assert "error: job.interface.inputs.json[0].type:" in done.stdout


def test_jobtype_validate_reports_unreadable_files(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    done = _cli("jobtype", "validate", str(path))
    assert done.returncode == 1
    assert "cannot read" in done.stderr


def test_db_upgrade_creates_the_schema(tmp_path):
    done = _cli("db", "upgrade", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d" / "uws.sqlite3").is_file()


def test_bad_setting_is_a_one_line_configuration_error(tmp_path):
    done = _cli("db", "upgrade", "--data-dir", str(tmp_path), env={"UWS_EXECUTOR": "pbs"})
    assert done.returncode == 2
    assert done.stderr.strip() == "uws-server: configuration error: UWS_EXECUTOR: unknown " \
                                  "executor 'pbs'"


def test_gunicorn_web_tier_and_separate_worker_run_a_job_together(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "UWS_DATA_DIR": str(tmp_path / "data"), "UWS_PORT": str(port),
           "UWS_POLL_INTERVAL": "0.2", "GUNICORN_WORKERS": "2", "GUNICORN_ACCESSLOG": ""}
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c",
                            "python:uws_server.gunicorn_conf", "uws_server.wsgi:app"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    worker = None
    try:
        base = f"http://127.0.0.1:{port}/uws/echo"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base, timeout=1)
                break
            except requests.ConnectionError:
                assert web.poll() is None, web.stderr.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        worker = subprocess.Popen([sys.executable, "-m", "uws_server.cli", "worker"], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        job = requests.post(base, data={"message": "split", "PHASE": "RUN"},
                            allow_redirects=False, timeout=10).headers["Location"]
        deadline = time.monotonic() + 30
        while (phase := requests.get(f"{job}/phase", timeout=5).text) not in ("COMPLETED",
                                                                                "ERROR"):
            assert time.monotonic() < deadline, phase
            requests.get(job, params={"WAIT": 5}, timeout=10)
        assert phase == "COMPLETED"
        assert requests.get(f"{job}/results/result", timeout=5).text == "split"
    finally:
        for process in (worker, web):
            if process is not None:
                process.terminate()
                process.wait(20)
