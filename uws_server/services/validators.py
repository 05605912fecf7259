"""Per-job-type checks of a job's parameter values, beyond what its Seed interface says.

Some job types have rules a manifest cannot express (the ``ocps`` type's
operator allow-lists). Such a type registers a check here, keyed by the job
type's name; :class:`~uws_server.services.jobs.JobService` runs the check of
the job's type on every creation and every parameter change, whichever front
door the request came through, before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ..config import Settings


class JobCheck(Protocol):
    """A check of one job type's parameter values (text, as stored, by parameter name).

    Raises a :class:`~uws_server.errors.UWSError` (400, 403...) to refuse the job.
    """

    def __call__(self, settings: Settings, values: Mapping[str, Sequence[str]]) -> None:
        """Refuse ``values`` by raising; return to accept them."""


class JobValidators:
    """The registered checks, one per job type name at most."""

    def __init__(self) -> None:
        self._checks: dict[str, JobCheck] = {}

    def add(self, type_name: str, check: JobCheck) -> None:
        """Register the check of ``type_name``; a second check for one type is an error."""
        if type_name in self._checks:
            raise ValueError(f"job type {type_name!r} has a check already")
        self._checks[type_name] = check

    def check(self, settings: Settings, type_name: str,
              values: Mapping[str, Sequence[str]]) -> None:
        """Run the check of ``type_name`` on a job's values; no-op for types without one."""
        found = self._checks.get(type_name)
        if found is not None:
            found(settings, values)
