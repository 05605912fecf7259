"""HTCondor's ``MOUNT_UNDER_SCRATCH``: directories every job sees as private and empty.

HTCondor 24 and later bind a fresh directory of the job's scratch space over each
path of ``MOUNT_UNDER_SCRATCH`` (default ``/tmp`` and ``/var/tmp``) in every job.
A program, a venv or a shared job directory under one of them is invisible to
the job, which then fails at start (``Failed to execute '/tmp/.../python3.11'
... errno=2``). The service cannot see the execution points' configuration; it
reads the access point's own (the bindings' ``param``), which on a personal
pool is the same, and which an operator sets to match the pool's
(``condor/README.md``, "Scratch mounts").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import PurePosixPath

log = logging.getLogger(__name__)

#: HTCondor's default (24.0 and later).
DEFAULT = ("/tmp", "/var/tmp")


def parse(value: str | None) -> tuple[str, ...] | None:
    """The paths of a ``MOUNT_UNDER_SCRATCH`` value; ``None`` when it cannot be known.

    Since 24.0 the value is a ClassAd expression evaluated per job, whose usual form is
    a string literal (``"/tmp,/var/tmp"``); older releases take a plain list. An empty
    value means no scratch mounts; an expression other than a literal cannot be
    evaluated without the job, so it is reported as unknown.
    """
    if value is None:
        return ()
    text = value.strip()
    if not text:
        return ()
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"') or '"' in text[1:-1]:
            return None
        text = text[1:-1]
    elif any(ch in text for ch in "()?=<>!&|"):
        return None
    paths = [p.strip() for p in text.replace(" ", ",").split(",")]
    return tuple(p.rstrip("/") or "/" for p in paths if p)


def configured() -> tuple[str, ...] | None:
    """``MOUNT_UNDER_SCRATCH`` of the local HTCondor configuration (``None``: unknown)."""
    try:
        import htcondor2
    except ImportError:
        return None
    try:
        return parse(htcondor2.param.get("MOUNT_UNDER_SCRATCH"))
    except Exception:  # a broken configuration file: nothing to say about scratch mounts
        return None


def mount_of(path: str, mounts: Iterable[str]) -> str | None:
    """The scratch mount that hides ``path`` from jobs, if any."""
    pure = PurePosixPath(path)
    for mount in mounts:
        if pure == PurePosixPath(mount) or PurePosixPath(mount) in pure.parents:
            return mount
    return None


def warnings(
    mounts: tuple[str, ...] | None,
    *,
    interpreter: str | None = None,
    job_root: str | None = None,
    executable: str | None = None,
    shared: bool = False,
) -> list[str]:
    """One clear sentence per path that jobs will not see because of a scratch mount.

    ``interpreter`` is the service's Python (what ``${PYTHON}`` job types run),
    ``executable`` a job's program when it is not transferred, ``job_root`` the
    directory of job directories: under a scratch mount it matters in shared
    mode only (in transfer mode HTCondor copies the files; the shadow, not the
    job, reads the job directory).
    """
    if not mounts:
        return []
    setting = f"MOUNT_UNDER_SCRATCH = {','.join(mounts)}"
    out = []
    for what, path, matters in (
        ("the service's Python (what ${PYTHON} job types run)", interpreter, True),
        ("the job's executable", executable, True),
        ("the job root (shared file mode: jobs run in their job directories)", job_root, shared),
    ):
        if not path or not matters:
            continue
        mount = mount_of(path, mounts)
        if mount is not None:
            out.append(
                f"HTCondor gives every job a private, empty {mount} ({setting}), so "
                f"{what} {path} is invisible to jobs and they will fail to start; "
                f"move it out of {mount} or set MOUNT_UNDER_SCRATCH on the execution points "
                "(see condor/README.md, 'Scratch mounts')"
            )
    return out
