"""Job directories: where a job's inputs, outputs and logs live on disk.

Layout under ``<data_dir>/jobs/<job id>/``: ``inputs/<input name>/<n>_<file>``
(client file names are never used as paths on their own), ``outputs/`` (the
job's ``OUTPUT_DIR``), ``stdout.txt`` and ``stderr.txt``. Every path handed
out is checked to stay inside the job's directory, symlinks included, and
every file the service reads back from a job directory is opened through
:meth:`JobStorage.open_file`, which follows no symlink at all: a job (on
Slurm or HTCondor, running as another user) can replace its ``stderr.txt`` or
a result by a link to ``/etc/shadow``, and the service must not read it with
its own rights.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import BinaryIO

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UnsafePath(ValueError):
    """A path that would leave the job's directory."""


class JobStorage:
    """Paths of every job, rooted at one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def job_dir(self, job_id: str) -> Path:
        """The directory of one job (not created)."""
        if not re.fullmatch(r"[0-9a-f]{32}", job_id):
            raise UnsafePath(f"not a job id: {job_id!r}")
        return self.root / job_id

    def create(self, job_id: str) -> Path:
        """Create a job's directory (its ``inputs``/``outputs`` come when first needed)."""
        path = self.job_dir(job_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def input_path(self, job_id: str, input_name: str, index: int, filename: str | None) -> str:
        """A new input file's path, relative to the job directory."""
        safe = _SAFE.sub("_", Path(filename or "").name).strip("._") or "file"
        return f"inputs/{_SAFE.sub('_', input_name)}/{index}_{safe[:100]}"

    def resolve(self, job_id: str, relative: str) -> Path:
        """The absolute path of a file of the job; refuses anything outside its directory."""
        base = self.job_dir(job_id).resolve()
        candidate = (base / relative).resolve()
        if candidate != base and base not in candidate.parents:
            raise UnsafePath(f"{relative!r} is outside the job directory")
        return candidate

    def open_file(self, job_id: str, relative: str) -> BinaryIO:
        """Open a regular file of the job for reading, following no symlink on the way.

        Each directory of ``relative`` is opened relative to the previous one
        with ``O_NOFOLLOW``, and so is the file itself (``O_NONBLOCK`` too, so
        that a FIFO cannot hang the caller), so what is opened is inside the
        job's directory however the job rearranges it meanwhile (no window
        between a check and the open).

        Raises
        ------
        UnsafePath
            ``relative`` is absolute or has ``..``, or a component is a
            symlink, or the file is not a regular file.
        FileNotFoundError
            Nothing is there (any more).
        """
        parts = PurePosixPath(relative).parts
        if not parts or relative.startswith("/") or any(p in (".", "..") for p in parts):
            raise UnsafePath(f"{relative!r} is not a path inside the job directory")
        folder = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.job_dir(job_id), folder)
            try:
                for part in parts[:-1]:
                    inner = os.open(part, folder, dir_fd=fd)
                    os.close(fd)
                    fd = inner
                file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                                  | os.O_CLOEXEC, dir_fd=fd)
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENXIO):
                raise UnsafePath(f"{relative!r}: a symlink or not a regular file") from None
            raise
        if not stat.S_ISREG(os.fstat(file_fd).st_mode):
            os.close(file_fd)
            raise UnsafePath(f"{relative!r} is not a regular file")
        os.set_blocking(file_fd, True)
        return os.fdopen(file_fd, "rb")

    def read_tail(self, job_id: str, relative: str, limit: int) -> bytes:
        """The last ``limit`` bytes of a job's file (opened as :meth:`open_file` does)."""
        with self.open_file(job_id, relative) as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - limit))
            return handle.read(limit)

    def remove(self, job_id: str) -> None:
        """Delete a job's directory and everything in it."""
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def remove_outputs(self, job_id: str) -> None:
        """Delete a job's outputs and logs but keep its directory (archiving)."""
        base = self.job_dir(job_id)
        shutil.rmtree(base / "outputs", ignore_errors=True)
        for name in ("stdout.txt", "stderr.txt"):
            (base / name).unlink(missing_ok=True)
