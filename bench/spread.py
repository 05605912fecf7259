"""Many jobs with one blocked WAIT each, changed one after another (issue 14).

The storm of :func:`load.wait_storm` is a thousand clients on *one* job: one change, one
rendering shared by all. This is the other shape: ``len(job_urls)`` PENDING jobs, one
``GET job?WAIT=…&PHASE=PENDING`` blocked on each, then every job aborted by a client
(``POST job/phase PHASE=ABORT``, ``connections`` at a time) while the other waiters are
still blocked. Each return is timed against its own job's change: the ``endTime`` the
abort stamped (milliseconds, the server's clock, as the one-job storm uses).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests

from bench.load import WaitOutcome, _request


def abort_all(job_urls: list[str], connections: int = 8) -> None:
    """Abort every job, ``connections`` requests in flight at once."""
    def abort(url: str) -> None:
        with requests.Session() as session:
            session.post(f"{url}/phase", data={"PHASE": "ABORT"}, allow_redirects=False,
                         timeout=60).raise_for_status()

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(abort, job_urls))


def end_times(job_urls: list[str]) -> dict[str, float | None]:
    """Each job's ``endTime`` as ``time.time()`` (``None`` when it has none)."""
    from uws_server.timeutil import parse_utc

    found: dict[str, float | None] = {}
    with requests.Session() as session:
        for url in job_urls:
            body = session.get(url, headers={"Accept": "application/json"}, timeout=30).json()
            found[url] = parse_utc(body["endTime"]).timestamp() if body.get("endTime") else None
    return found


def spread_storm(job_urls: list[str], *, wait: int, phase: str,
                 change: Callable[[], None],
                 change_times: Callable[[], dict[str, float | None]],
                 change_source: str, settle: float = 2.0) -> WaitOutcome:
    """One blocked ``WAIT`` per job; ``change()`` then changes them all; time each return."""
    client_timeout = wait + 30.0

    async def storm() -> list[tuple[int, float, float]]:
        sent = 0
        all_sent = asyncio.Event()
        gate = asyncio.Semaphore(32)

        def one_sent() -> None:
            nonlocal sent
            sent += 1
            if sent == len(job_urls):
                all_sent.set()

        tasks = []
        for url in job_urls:
            parts = urlsplit(url)
            tasks.append(asyncio.create_task(_request(
                parts.hostname or "127.0.0.1", parts.port or 80, "GET",
                f"{parts.path}?WAIT={wait}&PHASE={phase}", "", one_sent, client_timeout, gate)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_sent.wait(), 60)
        await asyncio.sleep(settle)
        await asyncio.get_running_loop().run_in_executor(None, change)
        return list(await asyncio.gather(*tasks))

    began = time.time()
    results = asyncio.run(storm())
    changed = change_times()
    known = [at for at in changed.values() if at is not None]
    after, before, late, failed = [], 0, 0, 0
    for url, (status, sent_at, end_at) in zip(job_urls, results, strict=True):
        at = changed.get(url)
        if status != 200 or at is None:
            failed += 1
        elif sent_at >= at:
            late += 1
        elif end_at < at:
            before += 1
        else:
            after.append(end_at - at)
    last_sent = max((sent for status, sent, _ in results if status != -1), default=None)
    timeline: dict[str, Any] = {
        "last_request_sent": last_sent, "first_change": min(known, default=None),
        "last_change": max(known, default=None)}
    timeline_s = {key: None if at is None else round(at - began, 3)
                  for key, at in timeline.items()}
    return WaitOutcome(len(job_urls), min(known, default=None), change_source, after, before,
                       late, failed, {}, timeline_s)
