"""Listing a job's output directory without ever leaving it.

Like :meth:`~uws_server.storage.JobStorage.open_file`, every directory on the
way is opened relative to the previous one with ``O_NOFOLLOW``: a symlink
anywhere in the path (a job may plant one pointing at ``/etc``) is a 404,
and symlinks inside a listed directory are left out of the listing. What is
listed is what is on disk now, so a running job's listing shows what it has
written so far.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from ...errors import ResourceNotFound
from ...storage import JobStorage, UnsafePath

#: The job's output directory (its ``OUTPUT_DIR``), relative to the job directory.
OUTPUTS = "outputs"


@dataclass(frozen=True)
class OutputEntry:
    """One file or directory of a job's outputs."""

    name: str
    path: str  # relative to the output directory, "/"-separated
    length: int
    last_modified: datetime
    is_dir: bool

    @property
    def mime_type(self) -> str:
        """The file's media type guessed from its name (directories: ``text/directory``)."""
        if self.is_dir:
            return "text/directory"
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"


def clean_path(sub: str) -> list[str]:
    """The components of a sub-path of the outputs; :class:`UnsafePath` for ``..``, an
    absolute path, a backslash or a NUL."""
    if sub.startswith("/") or "\\" in sub or "\x00" in sub:
        raise UnsafePath(f"{sub!r} is not a path inside the job's outputs")
    parts = [p for p in PurePosixPath(sub).parts if p not in ("", ".")] if sub else []
    if any(p == ".." for p in parts):
        raise UnsafePath(f"{sub!r} is not a path inside the job's outputs")
    return parts


def _entry(name: str, path: str, info: os.stat_result) -> OutputEntry:
    is_dir = stat.S_ISDIR(info.st_mode)
    return OutputEntry(name, path, 0 if is_dir else info.st_size,
                       datetime.fromtimestamp(info.st_mtime, UTC), is_dir)


def list_outputs(storage: JobStorage, job_id: str, sub: str) -> list[OutputEntry]:
    """The entries of ``outputs/<sub>`` (or that one file), sorted by name.

    Raises
    ------
    UnsafePath
        ``sub`` leaves the outputs, or crosses a symlink (the HTTP layer answers 404).
    ResourceNotFound
        Nothing is there.
    """
    parts = clean_path(sub)
    folder = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    missing = ResourceNotFound(f"job {job_id} has no output {sub or '/'!r}")
    try:
        fd = os.open(storage.job_dir(job_id), folder)
    except FileNotFoundError:
        raise missing from None
    try:
        for index, part in enumerate([OUTPUTS, *parts]):
            try:
                inner = os.open(part, folder, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    if index == 0:  # no outputs yet: an empty listing of the root
                        return []
                    raise missing from None
                if exc.errno == errno.ENOTDIR and index == len(parts):
                    info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    if stat.S_ISREG(info.st_mode):
                        return [_entry(part, "/".join(parts), info)]
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath(f"{sub!r}: a symlink or not a directory") from None
                raise
            os.close(fd)
            fd = inner
        entries = []
        prefix = "/".join(parts)
        with os.scandir(fd) as found:
            for item in found:
                info = item.stat(follow_symlinks=False)
                if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                    continue  # symlinks, FIFOs, sockets: nothing a client may follow
                entries.append(_entry(item.name, f"{prefix}/{item.name}".lstrip("/"), info))
        return sorted(entries, key=lambda e: e.name)
    finally:
        os.close(fd)
