"""A running job's standard output and error, as they grow.

The local executor writes ``stdout.txt`` and ``stderr.txt`` in the job's
directory while the job runs; Slurm does too when the job directory is on a
shared file system (``#SBATCH --output``/``--error`` point there). HTCondor
transfers them back only when the job ends, unless the submit description
streams them (``stream_output``/``stream_error``). See docs/ui.md.

Two readers: :func:`live_results` adds the logs to a job's results while it
is EXECUTING (so ``curl`` and pyvo can follow them as UWS results, and the
result list stays schema-valid: each is a ``<uws:result>`` with an id and a
link), and :func:`read_log` serves the job page's tail, from an offset on.
Files are opened by :meth:`JobStorage.open_file` (no symlink followed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from ..storage import JobStorage
from .views import JobView, ResultView

LOG_NAMES = ("stdout", "stderr")
#: How much of a log one read returns, and how much of its end a first read shows.
CHUNK_BYTES = 64 * 1024
TAIL_BYTES = 16 * 1024
#: The start of a text result shown on the job page.
PREVIEW_BYTES = 16 * 1024
TEXT_TYPES = ("application/json", "application/xml", "application/x-yaml")


@dataclass(frozen=True)
class LogChunk:
    """Part of a log: its text, where it ended, and the file's size when read."""

    text: str
    end: int
    size: int


def _size_of(storage: JobStorage, job_id: str, relative: str) -> int | None:
    try:
        with storage.open_file(job_id, relative) as handle:
            return os.fstat(handle.fileno()).st_size
    except (OSError, ValueError):  # missing, or UnsafePath (a symlink the job left)
        return None


def live_results(storage: JobStorage, view: JobView) -> JobView:
    """``view`` with its growing ``stdout``/``stderr`` among the results while EXECUTING.

    Other phases are returned unchanged: once the job ends the dispatcher
    records its results (the logs among them) for good.
    """
    if view.phase != "EXECUTING":
        return view
    taken = {r.result_id for r in view.results}
    extra = []
    for name in LOG_NAMES:
        size = _size_of(storage, view.id, f"{name}.txt")
        if size is not None and name not in taken:
            extra.append(ResultView(name, f"{name}.txt", "text/plain", size))
    if not extra:
        return view
    return replace(view, results=[*view.results, *extra])


def _decodable(data: bytes) -> bytes:
    """``data`` without a UTF-8 sequence cut at its end (it comes with the next read)."""
    for cut in range(1, 4):
        if len(data) < cut:
            break
        lead = data[-cut]
        if lead & 0xC0 == 0xC0:  # the start of a multi-byte sequence
            needed = 2 if lead & 0xE0 == 0xC0 else 3 if lead & 0xF0 == 0xE0 else 4
            return data[:-cut] if needed > cut else data
        if lead & 0xC0 != 0x80:
            return data
    return data


def read_log(storage: JobStorage, job_id: str, name: str, offset: int) -> LogChunk:
    """The log ``name`` (``stdout``/``stderr``) from byte ``offset`` on (at most a chunk).

    A negative offset reads the last :data:`TAIL_BYTES`; an offset past the end
    (the file was started again) reads from the start. A missing file is empty.
    """
    try:
        handle = storage.open_file(job_id, f"{name}.txt")
    except (OSError, ValueError):
        return LogChunk("", 0, 0)
    with handle:
        size = os.fstat(handle.fileno()).st_size
        start = max(0, size - TAIL_BYTES) if offset < 0 else (offset if offset <= size else 0)
        handle.seek(start)
        data = handle.read(CHUNK_BYTES)
    if len(data) == CHUNK_BYTES:
        data = _decodable(data)
    return LogChunk(data.decode("utf-8", "replace"), start + len(data), size)


def is_text(mime_type: str | None) -> bool:
    """Whether a result of this media type is shown as text on the job page."""
    kind = (mime_type or "").split(";", 1)[0].strip().lower()
    return kind.startswith("text/") or kind in TEXT_TYPES or kind.endswith(("+json", "+xml"))


def text_preview(storage: JobStorage, job_id: str, result: ResultView) -> str | None:
    """The start of a text result (``None`` for other types or an unreadable file)."""
    if not is_text(result.mime_type):
        return None
    try:
        with storage.open_file(job_id, result.path) as handle:
            data = handle.read(PREVIEW_BYTES)
    except (OSError, ValueError):
        return None
    return _decodable(data).decode("utf-8", "replace")
