"""Asking Slurm about this user's jobs: squeue, then sacct or scontrol.

Which commands and output forms work is found out once (``--json`` support,
accounting) and remembered; every answer is a list of :class:`JobRecord`
restricted to the service's own Unix user.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from uws_server.executors.base import ExecutorError
from uws_server.executors.slurm.records import (
    SACCT_FORMAT,
    SQUEUE_FORMAT,
    JobRecord,
    SlurmParseError,
    json_version,
    parse_sacct_json,
    parse_sacct_text,
    parse_scontrol,
    parse_squeue_json,
    parse_squeue_text,
)
from uws_server.executors.slurm.runner import SlurmRunner, looks_transient

log = logging.getLogger(__name__)

#: sacct --json of older releases reports exit code 0 for failed jobs: use it from this on.
SACCT_JSON_SINCE = (23, 2)

_TRISTATE = {"auto": None, "yes": True, "no": False}


class SlurmQueries:
    """The executor's read-only view of Slurm.

    Parameters
    ----------
    runner
        Runs the commands (its settings say whether to use JSON/accounting).
    uid
        The Unix user whose jobs are reported; others' are dropped, so that a
        job carrying a forged comment can never pass for one of ours.
    """

    def __init__(self, runner: SlurmRunner, uid: int) -> None:
        self.runner = runner
        self.settings = runner.settings
        self.uid = uid
        self._accounting = _TRISTATE[self.settings.accounting]
        self._json = _TRISTATE[self.settings.json]
        self._version: tuple[int, int] | None = None

    def accounting_enabled(self) -> bool:
        """Whether sacct works here (asked once of ``scontrol show config``)."""
        if self._accounting is None:
            result = self.runner.check("scontrol", ["show", "config"])
            storage = ""
            for line in result.stdout.splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "AccountingStorageType":
                    storage = value.strip()
            self._accounting = bool(storage) and not storage.endswith("/none")
            log.info("slurm: accounting %s (%s)", self._accounting, storage or "unset")
        return self._accounting

    def queue(self) -> list[JobRecord]:
        """This user's jobs known to the controller (squeue, finished ones included)."""
        return [r for r in self._squeue() if r.user_id in (None, self.uid)]

    def history(self, backend_ids: Sequence[str]) -> list[JobRecord]:
        """Jobs among ``backend_ids`` from sacct, or scontrol without accounting."""
        if not self.accounting_enabled():
            return self._scontrol_all()
        return self._sacct(["--jobs=" + ",".join(backend_ids)])

    def history_all(self) -> list[JobRecord]:
        """Every job of this user that Slurm still remembers (for ``find``)."""
        if not self.accounting_enabled():
            return self._scontrol_all()
        return self._sacct([f"--starttime={self.settings.history_window}"])

    def _squeue(self) -> list[JobRecord]:
        """squeue --json when it works (22.05 ignores ``--me`` there), else text."""
        if self._json is not False:
            result = self.runner.run("squeue", ["--json", "--me"])
            if result.returncode == 0:
                try:
                    records = parse_squeue_json(result.stdout)
                except SlurmParseError as exc:
                    log.warning("slurm: squeue --json unusable (%s), using text output", exc)
                else:
                    self._json = True
                    if self._version is None:
                        self._version = json_version(result.stdout)
                    return records
            elif looks_transient(result.message):
                raise ExecutorError(f"squeue failed: {result.message}", transient=True)
            else:
                log.warning("slurm: squeue --json refused (%s), using text", result.message)
            self._json = False
        args = ["-h", "-r", "--me", "--states=all", f"--format={SQUEUE_FORMAT}"]
        result = self.runner.check("squeue", args)
        try:
            return parse_squeue_text(result.stdout)
        except SlurmParseError as exc:
            raise ExecutorError(f"squeue output not understood: {exc}") from exc

    def _scontrol_all(self) -> list[JobRecord]:
        result = self.runner.check("scontrol", ["-o", "show", "job"])
        return [r for r in parse_scontrol(result.stdout) if r.user_id in (None, self.uid)]

    def _sacct(self, selection: list[str]) -> list[JobRecord]:
        """sacct allocations (``-X``): JSON from 23.02 on, ``--parsable2`` text before."""
        if self._json and self._version is not None and self._version >= SACCT_JSON_SINCE:
            result = self.runner.check("sacct", ["--json", *selection])
            try:
                return parse_sacct_json(result.stdout)
            except (SlurmParseError, json.JSONDecodeError) as exc:
                log.warning("slurm: sacct --json unusable (%s), using text", exc)
        args = ["-X", "-n", "-P", f"--format={SACCT_FORMAT}", *selection]
        result = self.runner.check("sacct", args)
        try:
            return parse_sacct_text(result.stdout)
        except SlurmParseError as exc:
            raise ExecutorError(f"sacct output not understood: {exc}") from exc
