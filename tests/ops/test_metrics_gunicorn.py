"""Under gunicorn, /metrics sums every web worker and the dispatcher process of the host.

The web tier (gunicorn, two workers) and ``uws-server worker`` run as separate processes
on one data directory, as in the docker-compose stack; requests land on both workers, and
the dispatcher's counts live in a third process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.ops.test_metrics import scrape, value
from tests.support import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 40


def test_metrics_sum_the_gunicorn_workers_and_the_separate_dispatcher(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "UWS_DATA_DIR": str(tmp_path / "data"), "UWS_PORT": str(port),
           "UWS_POLL_INTERVAL": "0.2", "GUNICORN_WORKERS": "2", "GUNICORN_ACCESSLOG": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c",
                            "python:uws_server.gunicorn_conf", "uws_server.wsgi:app"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    worker = None
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/uws", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # not up, or still migrating
                assert web.poll() is None, web.stderr.read().decode() if web.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        worker = subprocess.Popen([sys.executable, "-m", "uws_server.cli", "worker"], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(REQUESTS):  # a new connection each: both workers get some
            response = requests.get(f"{url}/health", headers={"Connection": "close"}, timeout=10)
            assert response.status_code == 200
        job = requests.post(f"{url}/uws/echo", data={"message": "m", "PHASE": "RUN"},
                            allow_redirects=False, timeout=10).headers["Location"]
        deadline = time.monotonic() + 30
        while requests.get(f"{job}/phase", timeout=5).text != "COMPLETED":
            assert time.monotonic() < deadline
            requests.get(job, params={"WAIT": 2}, timeout=10)
        samples = scrape(url)
        assert value(samples, "uws_http_requests_total", route="/health", method="GET",
                     status="200") == REQUESTS
        assert value(samples, "uws_dispatcher_submissions_total", backend="local",
                     outcome="submitted") == 1  # counted in the worker process
        files = {path.name for path in (tmp_path / "data" / "run" / "metrics").glob("*/*.db")}
        pids = {name.rsplit("_", 1)[-1] for name in files if name.startswith("counter_")}
        assert len(pids) >= 2, files  # more than one process wrote counts
    finally:
        for process in (worker, web):
            stop_process(process)
