"""Running Slurm commands with a deadline, a curated environment and no shell.

Every command runs in its own session and is killed (with anything it
started) when the deadline passes, so a hung controller costs at most
``command_timeout`` seconds and surfaces as a transient
:class:`~uws_server.executors.base.ExecutorError`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from uws_server.executors.base import ExecutorError
from uws_server.executors.slurm.settings import SlurmSettings

log = logging.getLogger(__name__)

#: Messages meaning "the controller or the network is unwell, try later".
TRANSIENT_MARKERS = (
    "unable to contact slurm controller",
    "socket timed out",
    "connection refused",
    "connection timed out",
    "temporarily unable",
    "resource temporarily unavailable",
    "zero bytes were transmitted",
    "slurm_persist_conn_open",
    "communication connection failure",
    "not responding",
    "transport endpoint",
    "munge",
    "slurmctld is down",
    "try again",
)


@dataclass(frozen=True)
class CommandResult:
    """The outcome of one finished Slurm command."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def message(self) -> str:
        """The command's complaint, for errors and logs (stderr, else stdout)."""
        return (self.stderr.strip() or self.stdout.strip())[:500]


def looks_transient(message: str) -> bool:
    """Whether an error message says the controller is unreachable or busy."""
    lowered = message.lower()
    return any(marker in lowered for marker in TRANSIENT_MARKERS)


class SlurmRunner:
    """Runs Slurm commands for the executor.

    Parameters
    ----------
    settings
        Where the commands are, their deadline, ``SLURM_CONF``, what to export.
    environ
        The service's environment (``os.environ`` by default); only
        ``settings.export_env`` names are taken from it.
    """

    def __init__(self, settings: SlurmSettings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        source = os.environ if environ is None else environ
        base = {name: source[name] for name in settings.export_env if name in source}
        base.setdefault("PATH", os.defpath)
        conf = settings.slurm_conf or source.get("SLURM_CONF")
        if conf:
            base["SLURM_CONF"] = conf
        # sbatch's environment becomes the job's: only exported names, as they are.
        self.submit_env = dict(base)
        # Queries print timestamps in UTC and in a fixed locale.
        self.query_env = {**base, "TZ": "UTC", "LC_ALL": "C"}

    def run(
        self,
        command: str,
        args: Sequence[str],
        *,
        submit: bool = False,
    ) -> CommandResult:
        """Run ``command args`` and return its result whatever its exit status.

        Raises
        ------
        ExecutorError
            Transient when the deadline passed; permanent when the command
            cannot be started at all (wrong ``bin_prefix``).
        """
        argv = (self.settings.command(command), *args)
        timeout = self.settings.command_timeout
        log.debug("slurm: running %s", " ".join(argv))
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.submit_env if submit else self.query_env,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise ExecutorError(f"cannot run {argv[0]}: {exc}", transient=False) from exc
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(process)
            raise ExecutorError(
                f"{command} did not answer within {timeout:g} s (controller hung or unreachable)",
                transient=True,
            ) from None
        result = CommandResult(argv, process.returncode, stdout, stderr)
        if result.returncode != 0:
            log.debug("slurm: %s exited %d: %s", command, result.returncode, result.message)
        return result

    def check(
        self,
        command: str,
        args: Sequence[str],
        *,
        submit: bool = False,
        transient_default: bool = True,
    ) -> CommandResult:
        """Like :meth:`run`, raising :class:`ExecutorError` on a non-zero exit.

        The error is transient when the message says so (controller down,
        timeouts), otherwise ``transient_default`` decides: queries default to
        transient, submissions refused by policy to permanent.
        """
        result = self.run(command, args, submit=submit)
        if result.returncode != 0:
            transient = looks_transient(result.message) or transient_default
            raise ExecutorError(
                f"{command} failed ({result.returncode}): {result.message}", transient=transient
            )
        return result

    @staticmethod
    def _kill(process: subprocess.Popen[str]) -> None:
        """Kill the command's whole session and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        try:
            process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
