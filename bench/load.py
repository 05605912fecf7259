"""The load the bench puts on a server: wrk runs, blocked WAIT clients, streamed downloads.

``wrk`` (the Debian package) generates the request-rate load: the Python client the first
bench used topped out far below what gunicorn serves on the same two cores, so it measured
itself. The WAIT clients are a bounded asyncio loop of raw HTTP/1.1 connections (wrk cannot
say *when* each response came back). Every call here has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.servers import cpu_seconds, rss_bytes

LUA = Path(__file__).resolve().parent / "wrk" / "request.lua"


def wrk_binary() -> str:
    """The path of ``wrk``, or a RuntimeError that says how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (Debian package)")
    return found


@dataclass
class WrkResult:
    """One wrk run against one URL, with the server's CPU time over the same interval."""

    url: str
    method: str
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    server_cpu_s: float | None

    @property
    def rate(self) -> float:
        """Answered requests per second (status errors and timeouts excluded)."""
        good = self.requests - self.errors["status"] - self.errors["timeout"]
        return good / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        """What goes into the JSON report."""
        cpu_ms = (None if self.server_cpu_s is None or not self.requests
                  else round(1000 * self.server_cpu_s / self.requests, 3))
        return {**asdict(self), "rate": round(self.rate, 1), "server_cpu_ms_per_request": cpu_ms}


def run_wrk(url: str, *, method: str = "GET", body: str = "", seconds: float = 5,
            connections: int = 8, threads: int = 1, server_pids: list[int] | None = None,
            authorization: str = "") -> WrkResult:
    """Run wrk with keep-alive connections; sample the servers' CPU before and after.

    ``authorization`` is sent as the ``Authorization`` header of every request.
    """
    args = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(LUA), url]
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body,
           "BENCH_AUTHORIZATION": authorization}
    before = cpu_seconds(server_pids) if server_pids else None
    done = subprocess.run(args, env=env, capture_output=True, text=True,
                          timeout=seconds + 60, check=False)
    after = cpu_seconds(server_pids) if server_pids else None
    match = re.search(r"^BENCH_JSON (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk {url} failed: {done.stderr.strip() or done.stdout[-500:]}")
    data = json.loads(match.group(1))
    latency = {key: round(value / 1000, 3) for key, value in data["latency_us"].items()}
    return WrkResult(url, method, data["requests"], data["duration_us"] / 1e6, data["errors"],
                     latency, None if before is None or after is None else after - before)


# -- blocked WAIT clients -------------------------------------------------------------------
async def _request(host: str, port: int, method: str, target: str, body: str,
                   sent: Callable[[], None] | None, timeout: float,
                   gate: asyncio.Semaphore | None = None) -> tuple[int, float, float]:
    """One HTTP/1.1 request on its own connection.

    Returns the status (-1: no answer) and ``time.time()`` when the request was sent and
    when the whole answer was in.

    ``gate`` paces the connects (listen backlogs are short: DaCHS listens with 50).
    """
    try:
        if gate is None:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                    timeout)
        else:
            async with gate:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                        timeout)
    except (OSError, TimeoutError):
        return -1, time.time(), time.time()
    sent_at = time.time()
    try:
        head = (f"{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
                f"Content-Length: {len(body)}\r\n")
        if body:
            head += "Content-Type: application/x-www-form-urlencoded\r\n"
        writer.write(f"{head}\r\n{body}".encode())
        await writer.drain()
        sent_at = time.time()
        if sent is not None:
            sent()
        data = await asyncio.wait_for(reader.read(), timeout)  # Connection: close -> EOF
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else -1
        return status, sent_at, time.time()
    except (OSError, TimeoutError, ValueError, IndexError):
        return -1, sent_at, time.time()
    finally:
        writer.close()


@dataclass
class WaitOutcome:
    """What happened to ``clients`` requests blocked in WAIT on one job when it changed."""

    clients: int
    changed_at: float | None  # time.time() of the phase change
    change_source: str
    returned_after: list[float]  # seconds after the change, one per client held until then
    returned_before: int  # answered before the change: not held by the server
    sent_after_change: int  # too late to block: the storm took longer than the job
    failed: int  # no answer within the timeout, refused connections, non-200
    probe: dict[str, Any]  # a job GET by somebody else while the waiters are blocked
    timeline_s: dict[str, float | None]  # from the first connect: last sent, probe, change

    def summary(self) -> dict[str, Any]:
        """Percentiles in milliseconds, counts, and how the change time was known."""
        after = sorted(self.returned_after)

        def pct(q: float) -> float | None:
            if not after:
                return None
            return round(1000 * after[min(len(after) - 1, int(q * len(after)))], 1)

        return {
            "clients": self.clients, "returned_after_change": len(after),
            "returned_before_change": self.returned_before,
            "sent_after_change": self.sent_after_change, "failed": self.failed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
            "change_source": self.change_source, "probe": self.probe,
            "timeline_s": self.timeline_s,
        }


def wait_storm(job_url: str, *, clients: int, wait: int, phase: str, probe_url: str,
               change_time: Callable[[], float | None], change_source: str,
               settle: float = 2.0, probe_timeout: float = 5.0) -> WaitOutcome:
    """Block ``clients`` connections in ``GET job?WAIT=wait&PHASE=phase``; time their return.

    The job must be in ``phase`` already and change on its own (a running ``sleep`` job
    finishing). ``change_time`` is asked afterwards when the change happened (the job's
    ``endTime``, or what a phase poller saw). Once every request is sent, one probe GET of
    another document shows whether the server still answers anybody else before the change.
    """
    parts = urlsplit(job_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = f"{parts.path}?WAIT={wait}&PHASE={phase}"
    probe = urlsplit(probe_url)
    client_timeout = wait + 30.0

    async def storm() -> tuple[list[tuple[int, float, float]], tuple[int, float, float]]:
        sent = 0
        all_sent = asyncio.Event()
        gate = asyncio.Semaphore(32)  # connects in flight at once

        def one_sent() -> None:
            nonlocal sent
            sent += 1
            if sent == clients:
                all_sent.set()

        tasks = [asyncio.create_task(_request(host, port, "GET", target, "", one_sent,
                                              client_timeout, gate))
                 for _ in range(clients)]
        with contextlib.suppress(TimeoutError):  # some never connected: counted as failed
            await asyncio.wait_for(all_sent.wait(), 60)
        await asyncio.sleep(settle)
        probed = await _request(probe.hostname or host, probe.port or port, "GET",
                                probe.path, "", None, probe_timeout)
        results = await asyncio.gather(*tasks)
        return list(results), probed

    began = time.time()
    results, (probe_status, probe_sent, probe_end) = asyncio.run(storm())
    changed = change_time()
    timeline = {"last_request_sent": max((sent for status, sent, _ in results if status != -1),
                                         default=None),
                "probe_sent": probe_sent, "change": changed}
    timeline_s = {key: None if at is None else round(at - began, 3)
                  for key, at in timeline.items()}
    after, before, late, failed = [], 0, 0, 0
    for status, sent_at, end_at in results:
        if status != 200:
            failed += 1
        elif changed is not None and sent_at >= changed:
            late += 1
        elif changed is None or end_at < changed:
            before += 1
        else:
            after.append(end_at - changed)
    answered = probe_status == 200
    probe_summary = {
        "answered": answered, "timeout_s": probe_timeout,
        "ms": round(1000 * (probe_end - probe_sent), 1) if answered else None,
        "before_change": (answered and changed is not None and probe_end < changed),
        "sent_after_change": changed is not None and probe_sent >= changed,
    }
    return WaitOutcome(clients, changed, change_source, after, before, late, failed,
                       probe_summary, timeline_s)


class PhasePoller:
    """Polls a job's ``/phase`` every ``interval`` s and notes when it first saw a change.

    For servers whose job documents give times to the second only (DaCHS): the change lies
    between the last poll that saw the old phase and the first that saw the new one.
    """

    def __init__(self, job_url: str, old_phase: str, interval: float = 0.05) -> None:
        self.url = f"{job_url}/phase"
        self.old = old_phase
        self.interval = interval
        self.last_old: float | None = None
        self.first_new: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set() and self.first_new is None:
            asked = time.time()
            try:
                phase = session.get(self.url, timeout=5).text.strip()
            except requests.RequestException:
                phase = None
            if phase == self.old:
                self.last_old = asked
            elif phase:
                self.first_new = time.time()
            self._stop.wait(self.interval)

    def change_time(self) -> float | None:
        """The best estimate of the change: midway between the two polls around it."""
        if self.first_new is None or self.last_old is None:
            return self.first_new
        return (self.first_new + self.last_old) / 2

    @property
    def uncertainty_ms(self) -> float | None:
        """Half the interval the change lies in: the estimate is right to within this."""
        if self.first_new is None or self.last_old is None:
            return None
        return round(500 * (self.first_new - self.last_old), 1)

    def __enter__(self) -> PhasePoller:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


# -- streamed downloads ----------------------------------------------------------------------
def stream_with_rss(url: str, worker_pids: list[int], timeout: float = 300,
                    interval: float = 0.02) -> dict[str, Any]:
    """Download ``url`` in 1 MiB chunks while sampling the RSS of each worker process.

    Growth is the largest rise of any worker's RSS over its value before the request; the
    worker that served it is the one that grew (the others stay flat).
    """
    before = {pid: rss_bytes(pid) for pid in worker_pids}
    peak = dict(before)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in worker_pids:
                peak[pid] = max(peak[pid], rss_bytes(pid))
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    received, started = 0, time.monotonic()
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            status = response.status_code
            for chunk in response.iter_content(1 << 20):
                received += len(chunk)
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"{url}: still streaming after {timeout} s")
    finally:
        stop.set()
        sampler.join(10)
    elapsed = time.monotonic() - started
    after = {pid: rss_bytes(pid) for pid in worker_pids}
    grown = max(worker_pids, key=lambda pid: peak[pid] - before[pid])
    mib = 1 << 20
    return {
        "status": status, "bytes": received, "seconds": round(elapsed, 2),
        "rss_before_mib": round(before[grown] / mib, 1),
        "rss_peak_mib": round(peak[grown] / mib, 1),
        "rss_after_mib": round(after[grown] / mib, 1),
        "rss_growth_mib": round((peak[grown] - before[grown]) / mib, 1),
    }
