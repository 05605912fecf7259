"""Ordinary requests while many clients are blocked in ``WAIT`` (issue 15 items 10 and 14).

Usage: ``.venv/bin/python bench/wait_load.py [--waiters 1000] [--samples 200]
[--database-url URL] [--threads N]``

Starts ``uws-server serve`` (default settings, loopback, its own data directory),
creates a PENDING job, then measures on the same machine in one run:

* the median and 95th percentile of a job GET (and of a job-creating POST)
  unloaded, then while ``--waiters`` raw connections sit in
  ``GET job?WAIT=60`` — reported as ratios loaded/unloaded;
* the serve worker's resident memory and thread count, unloaded and loaded;
* how long after a phase change every waiter has its answer (wake-up of all);
* how long after SIGTERM a second crowd of waiters has its answer (shutdown).

Every loop is bounded; every socket is on 127.0.0.1. Prints a JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.hardening.crowd import answers, open_waiters, worker_pid  # noqa: E402
from tests.support import free_port  # noqa: E402


def _memory(pid: int) -> dict[str, int]:
    """Resident memory (KiB) and threads of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            fields[key] = int(value.split()[0])
    return {"rss_kib": fields["VmRSS"], "threads": fields["Threads"]}


def _ok(done: list[bytes]) -> int:
    """How many complete answers are 200s."""
    return sum(answer.startswith(b"HTTP/1.1 200") for answer in done)


def _timings(call: Any, samples: int) -> dict[str, float]:
    """Median and p95 of ``samples`` calls, seconds."""
    seen = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        seen.append(time.perf_counter() - started)
    seen.sort()
    return {"median": statistics.median(seen), "p95": seen[int(0.95 * (len(seen) - 1))],
            "max": seen[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--waiters", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--threads", type=int, default=0, help="serve --threads (0: default)")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "UWS_LOG_LEVEL": "WARNING"}
        if args.database_url:
            env["UWS_DATABASE_URL"] = args.database_url
        command = [sys.executable, "-m", "uws_server.cli", "serve", "--port", str(port),
                   "--data-dir", data]
        if args.threads:
            command += ["--threads", str(args.threads)]
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/uws", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.1)
            report = measure(base, server.pid, args)
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)
    print(json.dumps(report, indent=2))
    return 0


def measure(base: str, master: int, args: argparse.Namespace) -> dict[str, Any]:
    """Unloaded, loaded, wake-up of all, shutdown: the report."""
    worker = worker_pid(master)
    session = requests.Session()
    job = session.post(f"{base}/uws/echo", data={"message": "target"}, allow_redirects=False,
                       timeout=30).headers["Location"]

    def get() -> None:
        assert session.get(job, timeout=60).status_code == 200

    def post() -> None:
        assert session.post(f"{base}/uws/echo", data={"message": "x"}, allow_redirects=False,
                            timeout=60).status_code == 303

    for _ in range(20):
        get()  # warm up
    report: dict[str, Any] = {"waiters": args.waiters, "samples": args.samples}
    report["unloaded"] = {"get": _timings(get, args.samples),
                          "post": _timings(post, max(10, args.samples // 4)),
                          **_memory(worker)}
    crowd = open_waiters(job, args.waiters, 60)
    time.sleep(3)  # let the worker take them all in
    report["loaded"] = {"get": _timings(get, args.samples),
                        "post": _timings(post, max(10, args.samples // 4)),
                        **_memory(worker)}
    started = time.monotonic()
    session.post(f"{job}/phase", data={"PHASE": "ABORT"}, allow_redirects=False, timeout=60)
    done, last = answers(crowd, 70)
    report["wake_all"] = {"answered_200": _ok(done), "seconds_to_last": round(last, 3),
                          "since_phase_change": round(time.monotonic() - started, 3)}
    for name in ("get", "post"):
        report[f"ratio_{name}_median"] = round(
            report["loaded"][name]["median"] / report["unloaded"][name]["median"], 2)
        report[f"ratio_{name}_p95"] = round(
            report["loaded"][name]["p95"] / report["unloaded"][name]["p95"], 2)
    report["rss_per_waiter_kib"] = round(
        (report["loaded"]["rss_kib"] - report["unloaded"]["rss_kib"]) / max(1, args.waiters), 1)
    pending = session.post(f"{base}/uws/echo", data={"message": "shutdown"},
                           allow_redirects=False, timeout=30).headers["Location"]
    crowd = open_waiters(pending, args.waiters, 60)
    time.sleep(3)
    os.kill(master, signal.SIGTERM)
    done, last = answers(crowd, 70)
    report["shutdown"] = {"answered_200": _ok(done), "seconds_to_last": round(last, 3)}
    return report


if __name__ == "__main__":
    sys.exit(main())
