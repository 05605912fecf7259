"""Inputs by reference, fetched in the background: never in a transaction nor in the tick.

A queued job whose file inputs are URLs not yet on disk is handed to the
:class:`Stager`; its threads (a bounded number) fetch each URL through the SSRF
guard (:mod:`uws_server.urlguard`) within one overall deadline per URL, with no
database session open. When a job's inputs are all there, or one of them
failed, the stager wakes the dispatcher, which submits the job or ends it in
ERROR with the reason, in its own short transaction. A hung or hostile URL
thus costs one fetch thread for at most ``fetch_timeout`` seconds, and never
holds back another job, the tick, or the database's write lock.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..urlguard import UrlPolicy, UrlRefused, open_url

log = logging.getLogger(__name__)


class StagingError(Exception):
    """An input by reference could not be fetched; the job cannot run. One line."""


@dataclass(frozen=True)
class PendingInput:
    """One file input to fetch: where from and where to."""

    name: str
    url: str
    target: Path
    job_dir: Path


def fetch_input(item: PendingInput, policy: UrlPolicy, *, timeout: float,
                max_bytes: int) -> None:
    """Download one input to its place in the job directory, or raise :class:`StagingError`.

    ``timeout`` bounds the whole download (connection, redirects, every byte):
    a server that drips its answer is cut off when the time is up.
    """
    if not item.job_dir.is_dir():
        raise StagingError(f"{item.name}: the job's directory is gone")
    deadline = time.monotonic() + timeout
    partial = item.target.with_name(item.target.name + ".part")
    try:
        item.target.parent.mkdir(parents=True, exist_ok=True)
        with open_url(item.url, policy, deadline=deadline) as response:
            if response.status != 200:
                raise StagingError(f"{item.name}: cannot fetch {item.url}: HTTP "
                                   f"{response.status} {response.reason}".rstrip())
            copied = 0
            with open(partial, "wb") as out:
                while chunk := response.read1(1 << 16):
                    copied += len(chunk)
                    if copied > max_bytes:
                        raise StagingError(f"{item.name}: {item.url} is larger than "
                                           f"{max_bytes} bytes")
                    out.write(chunk)
        partial.replace(item.target)
    except StagingError:
        raise
    except UrlRefused as exc:
        raise StagingError(f"{item.name}: {item.url} refused: {exc}") from None
    except TimeoutError:
        raise StagingError(f"{item.name}: cannot fetch {item.url}: not complete within "
                           f"{timeout:g} s (UWS_FETCH_TIMEOUT)") from None
    except Exception as exc:  # BadStatusLine, resets, ENOSPC...: this job's failure only
        text = " ".join(str(exc).split())[:200] or "no detail"
        raise StagingError(f"{item.name}: cannot fetch {item.url}: "
                           f"{type(exc).__name__}: {text}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


class Stager:
    """A bounded pool of daemon threads fetching jobs' inputs.

    Parameters
    ----------
    fetch
        Fetches one input or raises (``fetch_input`` with the settings bound).
    workers
        How many inputs are fetched at once.
    on_done
        Called (from a fetch thread) when a job's inputs are all there or one failed.
    """

    def __init__(self, fetch: Callable[[PendingInput], None], workers: int,
                 on_done: Callable[[], None]) -> None:
        self._fetch = fetch
        self._workers = max(1, workers)
        self._on_done = on_done
        self._queue: queue.Queue[tuple[str, PendingInput] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._left: dict[str, int] = {}  # job id -> inputs still being fetched
        self._failed: dict[str, str] = {}  # job id -> first failure, until taken
        self._threads: list[threading.Thread] = []
        self._closed = False

    def stage(self, job_id: str, inputs: Sequence[PendingInput]) -> bool:
        """Queue a job's missing inputs; False when that job is already being fetched."""
        with self._lock:
            if self._closed or job_id in self._left or job_id in self._failed or not inputs:
                return False
            self._left[job_id] = len(inputs)
            while len(self._threads) < self._workers:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"fetch-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        for item in inputs:
            self._queue.put((job_id, item))
        return True

    def busy(self) -> set[str]:
        """Jobs whose inputs are being fetched, or whose failure waits to be taken."""
        with self._lock:
            return set(self._left) | set(self._failed)

    def take_failures(self) -> dict[str, str]:
        """Jobs whose inputs could not be fetched, with the reason; forgotten once taken."""
        with self._lock:
            failed, self._failed = self._failed, {}
            return failed

    def close(self) -> None:
        """Stop taking work; threads end after their current fetch (each has a deadline)."""
        with self._lock:
            self._closed = True
            count = len(self._threads)
        for _ in range(count):
            self._queue.put(None)

    def _run(self) -> None:
        while (task := self._queue.get()) is not None:
            job_id, item = task
            with self._lock:
                skip = job_id in self._failed
            error: str | None = None
            if not skip:
                try:
                    self._fetch(item)
                except StagingError as exc:
                    error = str(exc)
                except Exception as exc:  # a bug must still end the job, not the thread
                    log.exception("job %s: fetching %s failed", job_id, item.url)
                    error = f"{item.name}: cannot fetch {item.url}: {type(exc).__name__}"
            with self._lock:
                if error is not None and job_id not in self._failed:
                    self._failed[job_id] = error
                left = self._left.get(job_id, 1) - 1
                finished = left <= 0
                if finished:
                    self._left.pop(job_id, None)
                else:
                    self._left[job_id] = left
            if finished or error is not None:
                try:
                    self._on_done()
                except Exception:
                    log.exception("waking the dispatcher failed")
