"""Parsing what squeue, sacct and scontrol say about jobs into one record type.

Slurm 22.05 offers ``--json`` for squeue and sacct (not scontrol), older and
trimmed-down builds do not, and the JSON shapes change between releases, so
each parser accepts the known variants. Folded records of pending array
tasks (``ArrayTaskId=3-5``) are expanded into one record per task, so callers
can look every job up by its backend id (``1234`` or ``1234_5``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

#: squeue ``--format`` used in text mode; the comment is last as it may hold ``|``.
SQUEUE_FORMAT = "%i|%F|%K|%T|%r|%S|%e|%l|%k"
#: sacct ``--format`` used in text mode, same reason for the comment's place.
SACCT_FORMAT = "JobID,State,ExitCode,Reason,Start,End,Timelimit,Comment"

_UNSET = {"", "unknown", "none", "n/a", "(null)", "null"}


@dataclass(frozen=True)
class JobRecord:
    """What one Slurm report says about one job or array task.

    ``exit_code`` and ``signal`` split Slurm's ``exit:signal`` pair;
    ``time_limit`` is in minutes, ``None`` when unlimited or unknown.
    """

    job_id: int
    array_job_id: int | None = None
    array_task_id: int | None = None
    state: str = "UNKNOWN"
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    time_limit: int | None = None
    comment: str | None = None
    user_id: int | None = None

    @property
    def backend_id(self) -> str:
        """``<job id>`` for a plain job, ``<array job id>_<task id>`` for a task."""
        if self.array_job_id is not None and self.array_task_id is not None:
            return f"{self.array_job_id}_{self.array_task_id}"
        return str(self.job_id)


class SlurmParseError(ValueError):
    """A Slurm command's output could not be understood."""


def _unset(text: str | None) -> bool:
    return text is None or text.strip().lower() in _UNSET


def parse_time(text: str | None) -> datetime | None:
    """A Slurm timestamp (printed in UTC: commands run with ``TZ=UTC``)."""
    if _unset(text):
        return None
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)  # type: ignore[union-attr]
    except ValueError:
        return None


def parse_epoch(value: Any) -> datetime | None:
    """A JSON timestamp: an epoch int, or ``{"set": .., "number": ..}`` (23.02+)."""
    if isinstance(value, dict):
        value = value.get("number") if value.get("set", True) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC)


def parse_limit(text: str | None) -> int | None:
    """A time limit ``[days-][hh:]mm[:ss]`` or minutes, in minutes (rounded up)."""
    if _unset(text) or text.strip().upper() in {"UNLIMITED", "INFINITE", "PARTITION_LIMIT"}:  # type: ignore[union-attr]
        return None
    text = text.strip()  # type: ignore[union-attr]
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if len(parts) == 1:
        hours, minutes, seconds = 0, parts[0], 0
    elif len(parts) == 2:
        hours, minutes, seconds = 0, parts[0], parts[1]
        if days:
            hours, minutes, seconds = parts[0], parts[1], 0
    else:
        hours, minutes, seconds = parts[0], parts[1], parts[2]
    total = (int(days or 0) * 24 + hours) * 60 + minutes
    return total + (1 if seconds else 0)


def parse_exit(text: str | None) -> tuple[int | None, int | None]:
    """Slurm's ``exit:signal`` text into ``(exit code, signal)``."""
    if _unset(text):
        return None, None
    code, _, sig = text.strip().partition(":")  # type: ignore[union-attr]
    try:
        return int(code), int(sig or 0)
    except ValueError:
        return None, None


def split_wait_status(status: int) -> tuple[int | None, int | None]:
    """A raw ``waitpid`` status (squeue JSON's ``exit_code``) into (exit, signal)."""
    if status & 0x7F:
        return 0, status & 0x7F
    return (status >> 8) & 0xFF, 0


def expand_tasks(spec: str) -> list[int]:
    """Task ids of a folded array record: ``"1-5:2,7%3"`` → ``[1, 3, 5, 7]``."""
    spec = spec.strip().strip("[]").split("%", 1)[0]
    tasks: list[int] = []
    for part in filter(None, spec.split(",")):
        bounds, _, step = part.partition(":")
        first, _, last = bounds.partition("-")
        tasks.extend(range(int(first), int(last or first) + 1, int(step or 1)))
    return tasks


def _with_tasks(record: JobRecord, task_text: str | None) -> Iterator[JobRecord]:
    """One record per array task named by ``task_text`` (plain ids pass as they are)."""
    if record.array_job_id is None or _unset(task_text):
        yield replace(record, array_job_id=None, array_task_id=None)
        return
    for task in expand_tasks(task_text):  # type: ignore[arg-type]
        yield replace(record, array_task_id=task)


def _state_word(value: Any) -> str:
    """The base state, from ``"CANCELLED by 0"``, ``"RUNNING"`` or ``["PENDING", ...]``."""
    if isinstance(value, dict):
        value = value.get("current")
    if isinstance(value, list):
        value = value[0] if value else "UNKNOWN"
    words = str(value or "UNKNOWN").split()
    return words[0].rstrip("+").upper() if words else "UNKNOWN"


def _text_or_none(value: Any) -> str | None:
    """A JSON string field, with Slurm's "None"/"(null)"/"" placeholders as ``None``."""
    return None if not isinstance(value, str) or _unset(value) else value


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("number") if value.get("set", True) else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _load_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SlurmParseError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise SlurmParseError("JSON without a 'jobs' list")
    return data


def parse_squeue_json(text: str) -> list[JobRecord]:
    """Records from ``squeue --json`` (22.05 shape; later integer wrappers accepted)."""
    records: list[JobRecord] = []
    for job in _load_json(text)["jobs"]:
        array_job_id = _int_or_none(job.get("array_job_id")) or None
        state = _state_word(job.get("job_state"))
        exit_code, signal = (None, None)
        raw = job.get("exit_code")
        if isinstance(raw, int) and not isinstance(raw, bool):
            exit_code, signal = split_wait_status(raw)
        elif isinstance(raw, dict):
            exit_code, signal = _exit_from_object(raw)
        record = JobRecord(
            job_id=int(_int_or_none(job.get("job_id")) or 0),
            array_job_id=array_job_id,
            array_task_id=_int_or_none(job.get("array_task_id")),
            state=state,
            reason=_text_or_none(job.get("state_reason")),
            exit_code=exit_code,
            signal=signal,
            started_at=parse_epoch(job.get("start_time")),
            ended_at=parse_epoch(job.get("end_time")),
            time_limit=_int_or_none(job.get("time_limit")),
            comment=job.get("comment") or None,
            user_id=_int_or_none(job.get("user_id")),
        )
        if array_job_id is not None and record.array_task_id is None:
            records.extend(_with_tasks(record, job.get("array_task_string") or None))
        else:
            records.extend(_with_tasks(record, str(record.array_task_id)))
    return records


def _exit_from_object(raw: dict[str, Any]) -> tuple[int | None, int | None]:
    """sacct/newer squeue JSON ``exit_code`` objects into (exit, signal)."""
    code = _int_or_none(raw.get("return_code"))
    signal_info = raw.get("signal") or {}
    signal = None
    if isinstance(signal_info, dict):
        signal = _int_or_none(signal_info.get("signal_id", signal_info.get("id")))
    return code, signal or 0


def parse_squeue_text(text: str) -> list[JobRecord]:
    """Records from ``squeue -h -r --format=SQUEUE_FORMAT``."""
    records: list[JobRecord] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|", 8)
        if len(fields) != 9:
            raise SlurmParseError(f"unexpected squeue line: {line!r}")
        ident, array_job, task, state, reason, start, end, limit, comment = fields
        record = JobRecord(
            job_id=int(ident.split("_", 1)[0]),
            array_job_id=None if _unset(task) else int(array_job),
            state=_state_word(state),
            reason=None if _unset(reason) else reason,
            started_at=parse_time(start),
            ended_at=parse_time(end),
            time_limit=parse_limit(limit),
            comment=None if _unset(comment) else comment,
        )
        records.extend(_with_tasks(record, task))
    return records


_SCONTROL_KEY = re.compile(r" (?=[A-Za-z][A-Za-z0-9_/:]*=)")


def scontrol_fields(line: str) -> dict[str, str]:
    """The ``Key=Value`` pairs of one ``scontrol -o show job`` line."""
    fields: dict[str, str] = {}
    for item in _SCONTROL_KEY.split(line.strip()):
        key, sep, value = item.partition("=")
        if sep:
            fields.setdefault(key, value.strip())
    return fields


def parse_scontrol(text: str) -> list[JobRecord]:
    """Records from ``scontrol -o show job [id]`` (one line per job)."""
    records: list[JobRecord] = []
    for line in text.splitlines():
        if not line.startswith("JobId="):
            continue
        f = scontrol_fields(line)
        exit_code, signal = parse_exit(f.get("ExitCode"))
        array_job = f.get("ArrayJobId")
        state = _state_word(f.get("JobState"))
        record = JobRecord(
            job_id=int(f["JobId"]),
            array_job_id=int(array_job) if array_job and array_job.isdigit() else None,
            state=state,
            reason=None if _unset(f.get("Reason")) else f.get("Reason"),
            exit_code=exit_code,
            signal=signal,
            started_at=None if state == "PENDING" else parse_time(f.get("StartTime")),
            ended_at=parse_time(f.get("EndTime")),
            time_limit=parse_limit(f.get("TimeLimit")),
            comment=None if _unset(f.get("Comment")) else f.get("Comment"),
            user_id=_user_id(f.get("UserId")),
        )
        records.extend(_with_tasks(record, f.get("ArrayTaskId")))
    return records


def _user_id(text: str | None) -> int | None:
    """The uid in scontrol's ``UserId=name(1000)``."""
    match = re.search(r"\((\d+)\)$", text or "")
    return int(match.group(1)) if match else None


def _sacct_ids(job_id_text: str) -> tuple[int, int | None, str | None]:
    """sacct ``JobID`` text (``12``, ``12_3``, ``12_[4-6]``) to (job, array job, tasks)."""
    base, sep, tasks = job_id_text.partition("_")
    if not sep:
        return int(base), None, None
    return int(base), int(base), tasks


def parse_sacct_text(text: str) -> list[JobRecord]:
    """Records from ``sacct -X -n -P --format=SACCT_FORMAT`` (allocations only)."""
    records: list[JobRecord] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|", 7)
        if len(fields) != 8:
            raise SlurmParseError(f"unexpected sacct line: {line!r}")
        ident, state, exit_text, reason, start, end, limit, comment = fields
        if "." in ident:  # a step line: -X should have left it out
            continue
        job_id, array_job_id, tasks = _sacct_ids(ident)
        exit_code, signal = parse_exit(exit_text)
        record = JobRecord(
            job_id=job_id,
            array_job_id=array_job_id,
            state=_state_word(state),
            reason=None if _unset(reason) else reason,
            exit_code=exit_code,
            signal=signal,
            started_at=parse_time(start),
            ended_at=parse_time(end),
            time_limit=parse_limit(limit),
            comment=None if _unset(comment) else comment,
        )
        records.extend(_with_tasks(record, tasks))
    return records


def parse_sacct_json(text: str) -> list[JobRecord]:
    """Records from ``sacct --json`` (22.05 shape, tolerant of 23.x wrappers)."""
    records: list[JobRecord] = []
    for job in _load_json(text)["jobs"]:
        array = job.get("array") or {}
        array_job_id = _int_or_none(array.get("job_id")) or None
        task = array.get("task_id")
        task_text = None
        if isinstance(task, int | dict) and _int_or_none(task) is not None:
            task_text = str(_int_or_none(task))
        elif array.get("task"):
            task_text = str(array.get("task"))
        times = job.get("time") or {}
        state_info = job.get("state") or {}
        comment = job.get("comment")
        if isinstance(comment, dict):
            comment = comment.get("job")
        exit_code, signal = _exit_from_object(job.get("exit_code") or {})
        limit = times.get("limit")
        record = JobRecord(
            job_id=int(_int_or_none(job.get("job_id")) or 0),
            array_job_id=array_job_id,
            state=_state_word(state_info),
            reason=_text_or_none(
                state_info.get("reason") if isinstance(state_info, dict) else None
            ),
            exit_code=exit_code,
            signal=signal,
            started_at=parse_epoch(times.get("start")),
            ended_at=parse_epoch(times.get("end")),
            time_limit=_int_or_none(limit),
            comment=comment or None,
        )
        records.extend(_with_tasks(record, task_text))
    return records


def json_version(text: str) -> tuple[int, int] | None:
    """Slurm's ``(major, minor)`` from the ``meta`` block of any ``--json`` output."""
    try:
        meta = json.loads(text).get("meta") or {}
    except (json.JSONDecodeError, AttributeError):
        return None
    slurm = meta.get("Slurm") or meta.get("slurm") or {}
    version = slurm.get("version") or {}
    try:
        return int(version["major"]), int(version["minor"])
    except (KeyError, TypeError, ValueError):
        return None
