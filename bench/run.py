"""Benchmark uws-server against a trivial Flask endpoint, both under the same gunicorn.

Usage: ``.venv/bin/python bench/run.py [--seconds 5] [--clients 8] [--database-url URL]``

Measures, in one run and on the same machine:

* job-creation rate (``POST /uws/echo``) / baseline ``POST /trivial`` rate;
* job-document GET rate (``GET /uws/echo/{id}``) / baseline ``GET /trivial`` rate;
* the delay between a phase change and the return of a blocked ``WAIT``: the
  dispatcher (a separate ``uws-server worker`` process) moves a job to
  EXECUTING, and a client blocked in ``GET job?WAIT=30&PHASE=QUEUED`` on a
  gunicorn worker returns; delay = return time - the job's ``startTime``.

Prints a JSON report and writes it to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import free_port  # noqa: E402

GUNICORN = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "2",
            "--threads", "16", "--log-level", "warning"]


def _start(args: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode())
    raise RuntimeError(f"{args} did not start")


def _rate(method: str, url: str, data: dict | None, seconds: float, clients: int) -> float:
    """Requests per second with ``clients`` keep-alive sessions for ``seconds``."""
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def work(index: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            response = session.request(method, url, data=data, allow_redirects=False, timeout=30)
            assert response.status_code in (200, 303), response.text
            counts[index] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def _wait_delays(list_url: str, repeats: int) -> list[float]:
    """Seconds between a job entering EXECUTING and a blocked WAIT returning."""
    delays = []
    for _ in range(repeats):
        job = requests.post(list_url.replace("/echo", "/sleep"), data={"seconds": "0.2"},
                            allow_redirects=False, timeout=10).headers["Location"]
        requests.post(f"{job}/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=10)
        body = requests.get(job, params={"WAIT": 30, "PHASE": "QUEUED"},
                            headers={"Accept": "application/json"}, timeout=40).json()
        returned = datetime.now(UTC)
        if body["phase"] != "EXECUTING" or not body["startTime"]:
            continue  # the job was already past QUEUED when the wait began: no measurement
        start = datetime.fromisoformat(body["startTime"].replace("Z", "+00:00"))
        delays.append((returned - start).total_seconds())
    return delays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="uws-bench-"))
    uws_port, base_port = free_port(), free_port()
    env = {**os.environ, "UWS_DATA_DIR": str(data_dir), "UWS_LOG_LEVEL": "WARNING",
           "UWS_DATABASE_URL": args.database_url, "UWS_PORT": str(uws_port)}
    subprocess.run([sys.executable, "-m", "uws_server.cli", "db", "upgrade"], env=env,
                   check=True, cwd=ROOT, capture_output=True)
    processes = [
        _start([*GUNICORN, "--bind", f"127.0.0.1:{base_port}", "--chdir", str(ROOT / "bench"),
                "baseline_app:app"], env, f"http://127.0.0.1:{base_port}/trivial"),
        _start([*GUNICORN, "--bind", f"127.0.0.1:{uws_port}", "-c",
                "python:uws_server.gunicorn_conf", "uws_server.wsgi:app"], env,
               f"http://127.0.0.1:{uws_port}/uws"),
    ]
    processes.append(subprocess.Popen([sys.executable, "-m", "uws_server.cli", "worker"],
                                      env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    try:
        base = f"http://127.0.0.1:{base_port}/trivial"
        jobs = f"http://127.0.0.1:{uws_port}/uws/echo"
        job = requests.post(jobs, data={"message": "bench"}, allow_redirects=False,
                            timeout=10).headers["Location"]
        report: dict[str, object] = {"when": datetime.now(UTC).isoformat(),
                                     "database": args.database_url or "sqlite (default)",
                                     "clients": args.clients, "seconds": args.seconds}
        for name, method, url, data, baseline_method in (
            ("create", "POST", jobs, {"message": "bench"}, "POST"),
            ("get_job", "GET", job, None, "GET"),
        ):
            baseline = _rate(baseline_method, base, data, args.seconds, args.clients)
            measured = _rate(method, url, data, args.seconds, args.clients)
            report[name] = {"rate": round(measured, 1), "baseline_rate": round(baseline, 1),
                            "ratio": round(measured / baseline, 3)}
        delays = _wait_delays(jobs, args.repeats)
        report["wait_delay_s"] = {
            "samples": len(delays),
            "median": round(statistics.median(delays), 4) if delays else None,
            "max": round(max(delays), 4) if delays else None,
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
