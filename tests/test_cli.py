"""The ``uws-server`` command and the production entry points (gunicorn + worker)."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import sqlalchemy

from tests.conftest import POSTGRES_BASE
from tests.registry.conftest import DOC_001, DOC_002, doc_examples
from tests.support import ROOT, free_port, postgres_schema, stop_process
from uws_server import cli
from uws_server.app import create_app

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
                requests.get(base, timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # not up, or still migrating
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
            stop_process(process)


# -- one validator: the CLI and POST /v6/job-types/validation/ ---------------------------
def _documented_bodies() -> list[tuple[str, Any]]:
    """Job-type files as people write them: the docs' examples, the shipped manifests, and
    mistakes of each kind the registry checks."""
    cases: list[tuple[str, Any]] = []
    section = (ROOT / "docs" / "registry.md").read_text().split("## From curl", 1)[1]
    hello = json.loads(re.search(r"cat > /tmp/hello-type.json <<'EOF'\n(.*?)\nEOF", section,
                                 re.S).group(1))
    cases += [("registry.md body", hello), ("registry.md manifest", hello["manifest"])]
    for source in (DOC_001, DOC_002):
        for line, body in doc_examples(source):
            if line.startswith("POST") and "/job-types/" in line and isinstance(body, dict) \
                    and "manifest" in body:
                cases += [(f"{source.name} {line}", body),
                          (f"{source.name} {line} manifest", body["manifest"])]
    for path in sorted((ROOT / "uws_server" / "jobtypes" / "manifests").glob("*.json")):
        cases.append((path.name, json.loads(path.read_text())))
    broken = copy.deepcopy(hello)
    broken["manifest"]["job"]["jobVersion"] = "one"
    del broken["manifest"]["job"]["interface"]["command"]
    cases.append(("errors in the manifest", broken))
    reserved = copy.deepcopy(hello["manifest"])
    reserved["job"]["name"] = "validation"
    cases.append(("a name the API uses", reserved))
    cases.append(("configuration errors", {**hello, "colour": "red", "configuration": {
        "settings": {"NOT_A_SETTING": "x", "DB_TOKEN": "*****"}}}))
    cases.append(("manifest as a JSON string", {"manifest": json.dumps(hello["manifest"])}))
    cases.append(("not an object", [1, 2, 3]))
    return cases


def test_jobtype_validate_and_the_registry_give_one_verdict_on_the_same_files(
        components, tmp_path, capsys):
    client = create_app(components=components).test_client()
    cases = _documented_bodies()
    assert len(cases) >= 12
    verdicts = set()
    for index, (label, body) in enumerate(cases):
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps(body))
        code = cli.main(["jobtype", "validate", "--json", str(path)])
        from_cli = json.loads(capsys.readouterr().out)
        request_body = body if isinstance(body, dict) and "manifest" in body \
            else {"manifest": body}
        answer = client.post("/v6/job-types/validation/", json=request_body)
        assert answer.status_code == 200, (label, answer.get_data(as_text=True))
        assert from_cli == answer.get_json(), label
        assert code == (0 if from_cli["is_valid"] else 1), label
        verdicts.add((from_cli["is_valid"], bool(from_cli["warnings"])))
    # the cases cover every kind of verdict: valid, valid with warnings, invalid
    assert {(True, True), (True, False)} <= verdicts and any(not ok for ok, _ in verdicts)


def test_jobtype_validate_accepts_the_documented_example_with_its_warning(tmp_path):
    section = (ROOT / "docs" / "registry.md").read_text().split("## From curl", 1)[1]
    body = json.loads(re.search(r"cat > /tmp/hello-type.json <<'EOF'\n(.*?)\nEOF", section,
                                re.S).group(1))
    for name, content in (("hello-type.json", body), ("hello.json", body["manifest"])):
        path = tmp_path / name
        path.write_text(json.dumps(content))
        done = _cli("jobtype", "validate", str(path))
        assert done.returncode == 0, done.stdout
        assert done.stdout.splitlines() == [
            "warning: job.errors[0].name: missing (Seed 1.0.0 requires it); named 'error-2' "
            "from its code", f"{path}: valid"]


# -- start-up failures: one line, before anything is written --------------------------------
def test_a_misspelt_setting_stops_db_upgrade_with_one_line_and_writes_nothing(tmp_path):
    data = tmp_path / "d"
    done = _cli("db", "upgrade", "--data-dir", str(data),
                env={"UWS_LOCAL_CONCURENCY": "4", "UWS_REQUIRE_POSTGRES": "1"})
    assert done.returncode == 2
    assert done.stderr.strip() == ("uws-server: configuration error: unknown variable "
                                   "UWS_LOCAL_CONCURENCY (did you mean UWS_LOCAL_CONCURRENCY?)")
    assert not data.exists()


def test_a_misspelt_key_in_the_file_stops_gunicorn_with_one_line_and_exit_2(tmp_path):
    config = tmp_path / "uws.toml"
    config.write_text("prot = 8093\n")
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:uws_server.gunicorn_conf",
         "uws_server.wsgi:app"], capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "UWS_CONFIG": str(config), "UWS_DATA_DIR": str(tmp_path / "d")})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"uws-server: configuration error: {config}: unknown key "
                                   "'prot' (did you mean 'port'?)")
    assert not (tmp_path / "d").exists()


def test_serve_on_a_port_in_use_fails_with_one_line_before_migrating(database_url, tmp_path):
    data = tmp_path / "d"
    with contextlib.ExitStack() as stack:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{data / 'uws.sqlite3'}"
        else:
            url = stack.enter_context(postgres_schema(POSTGRES_BASE,
                                                      f"uws_port_{uuid.uuid4().hex[:10]}"))
        taken = stack.enter_context(socket.socket())
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _cli("serve", "--port", str(port), "--data-dir", str(data),
                    env={"UWS_DATABASE_URL": url})
        assert done.returncode == 1
        assert done.stderr.strip() == (f"uws-server: cannot listen on 127.0.0.1:{port}: "
                                       "address already in use")
        assert not data.exists()  # no database file, no job directory
        if not database_url.startswith("sqlite"):
            engine = sqlalchemy.create_engine(url)
            try:
                assert sqlalchemy.inspect(engine).get_table_names() == []  # nothing migrated
            finally:
                engine.dispose()
