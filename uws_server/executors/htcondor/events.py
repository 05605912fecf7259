"""Following a job's event log with ``htcondor2.JobEventLog``, from a cursor.

The cursor the dispatcher stores is ``"v1:" + JSON`` holding the byte offset
reached in the log and the :class:`~.mapping.Fold` of every event before it,
so a poll reads only new events and re-reading from an older cursor (after a
crash) folds the same events again into the same answer. Reads never block
(``events(stop_after=0)``); a half-written event is left for the next poll.

Reading a local file cannot hang on the schedd, so this runs in the calling
process; the bindings are imported when the first log is read.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from uws_server.executors.htcondor.mapping import Fold, apply_event

log = logging.getLogger(__name__)

_PREFIX = "v1:"


def encode_cursor(offset: int, fold: Fold) -> str:
    """The cursor for a log read up to ``offset`` with this fold."""
    return _PREFIX + json.dumps({"o": offset, "f": fold.to_json()}, separators=(",", ":"))


def decode_cursor(cursor: str | None) -> tuple[int, Fold]:
    """Offset and fold of a cursor; an absent or unreadable one starts afresh."""
    if not cursor or not cursor.startswith(_PREFIX):
        return 0, Fold()
    try:
        data = json.loads(cursor[len(_PREFIX) :])
        return int(data["o"]), Fold.from_json(data["f"])
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring an unreadable HTCondor cursor; re-reading the event log")
        return 0, Fold()


def parse_backend_id(backend_id: str) -> tuple[int, int]:
    """``"<cluster>.<proc>"`` as two integers."""
    cluster, _, proc = backend_id.partition(".")
    return int(cluster), int(proc or 0)


def read_events(path: Path, backend_id: str, cursor: str | None) -> tuple[Fold, str] | None:
    """Fold the events of ``backend_id`` written to ``path`` since ``cursor``.

    Returns ``None`` when the log does not exist (yet, or any more); events of
    other jobs in the same file are skipped.
    """
    import htcondor2

    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return None
    offset, fold = decode_cursor(cursor)
    if offset > size:  # the log was truncated or replaced: start over
        offset, fold = 0, Fold()
    cluster, proc = parse_backend_id(backend_id)
    jel = htcondor2.JobEventLog(str(path))
    new_offset = offset
    try:
        if offset:
            state, _ = jel.__getstate__()
            jel.__setstate__((state, offset))
        for event in jel.events(stop_after=0):
            if event.cluster == cluster and event.proc == proc:
                fold = apply_event(fold, int(event.type), event, int(event.timestamp))
            new_offset = int(jel.__getstate__()[1])
    except htcondor2.HTCondorException as exc:  # a corrupt event: keep what was read
        log.warning("event log %s unreadable after offset %d: %s", path, new_offset, exc)
    finally:
        jel.close()
    return fold, encode_cursor(new_offset, fold)
