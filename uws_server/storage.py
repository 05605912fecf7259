"""Job directories: where a job's inputs, outputs and logs live on disk.

Layout under ``<data_dir>/jobs/<job id>/``: ``inputs/<input name>/<n>_<file>``
(client file names are never used as paths on their own), ``outputs/`` (the
job's ``OUTPUT_DIR``), ``stdout.txt`` and ``stderr.txt``. Every path handed
out is checked to stay inside the job's directory, symlinks included.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

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

    def remove(self, job_id: str) -> None:
        """Delete a job's directory and everything in it."""
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def remove_outputs(self, job_id: str) -> None:
        """Delete a job's outputs and logs but keep its directory (archiving)."""
        base = self.job_dir(job_id)
        shutil.rmtree(base / "outputs", ignore_errors=True)
        for name in ("stdout.txt", "stderr.txt"):
            (base / name).unlink(missing_ok=True)
