"""The processes the bench measures, and what /proc says about them.

Three servers run side by side on loopback:

* the service exactly as production runs it: ``gunicorn -c python:uws_server.gunicorn_conf
  uws_server.wsgi:app`` for the web tier and ``uws-server worker`` for the dispatcher;
* the ceiling: ``bench/baseline_app.py`` (a trivial Flask endpoint) under the very same
  gunicorn configuration module, access log included, so that only the application differs;
* the peer, GAVO DaCHS 2.7, driven through ``dachs-setup.sh`` (outside this repository).

CPU time and memory are read from ``/proc`` for a process and all its descendants, so a
gunicorn master and its workers count as one server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


# -- /proc --------------------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (children, grandchildren...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and of their process trees, in seconds.

    Children already reaped count through their parent's ``cutime``/``cstime``.
    """
    ticks = 0
    for root in pids:
        for pid in descendants(root):
            if (fields := _stat_fields(pid)) is not None:
                # utime, stime, cutime, cstime: fields 14-17 of stat(5), 11-14 here
                ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """The resident set size of one process (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


# -- servers we start ---------------------------------------------------------------------
def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path,
                   timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: server exited:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes], quick: bool = False) -> None:
    """Stop a process we started (gunicorn: SIGINT is its quick shutdown), then reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT if quick else signal.SIGTERM)
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            for pid in reversed(descendants(process.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait(10)


@dataclass
class Gunicorn:
    """A gunicorn master under ``uws_server.gunicorn_conf`` serving one WSGI application."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def workers(self) -> list[int]:
        """The pids of the worker processes (the master's children)."""
        return [pid for pid in descendants(self.process.pid) if pid != self.process.pid]

    @classmethod
    @contextlib.contextmanager
    def start(cls, app: str, port: int, env: dict[str, str], log_path: Path, probe: str,
              chdir: Path | None = None) -> Iterator[Gunicorn]:
        """Start ``gunicorn -c python:uws_server.gunicorn_conf APP`` on 127.0.0.1:``port``.

        The access log goes where the configuration sends it (stdout), here a file, for the
        service and the ceiling alike.
        """
        args = [sys.executable, "-m", "gunicorn", "-c", "python:uws_server.gunicorn_conf"]
        if chdir is not None:
            args += ["--chdir", str(chdir)]
        environ = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
        with open(log_path, "ab") as log:
            process = subprocess.Popen([*args, app], env=environ, cwd=ROOT, stdout=log,
                                       stderr=subprocess.STDOUT)
        server = cls(f"http://127.0.0.1:{port}", process, log_path)
        try:
            _wait_until_up(server.url + probe, process, log_path)
            yield server
        finally:
            stop(process, quick=True)


@dataclass
class Service:
    """uws-server as production runs it: the gunicorn web tier and ``uws-server worker``."""

    web: Gunicorn
    worker: subprocess.Popen[bytes]
    data_dir: Path
    database_url: str

    @property
    def pids(self) -> list[int]:
        """The roots of every process of the service (web tier and dispatcher)."""
        return [self.web.process.pid, self.worker.pid]

    def list_url(self, jobtype: str = "echo") -> str:
        """The absolute URL of a job list."""
        return f"{self.web.url}/uws/{jobtype}"

    @classmethod
    @contextlib.contextmanager
    def start(cls, data_dir: Path, database_url: str, port: int,
              extra_env: dict[str, str] | None = None, with_worker: bool = True
              ) -> Iterator[Service]:
        """Start the web tier, then the dispatcher; stop both afterwards."""
        env = service_env(data_dir, database_url, extra_env)
        log_dir = data_dir.parent
        with Gunicorn.start("uws_server.wsgi:app", port, env,
                            log_dir / f"{data_dir.name}-web.log", "/uws") as web:
            worker_log = open(log_dir / f"{data_dir.name}-worker.log", "ab")  # noqa: SIM115
            worker = subprocess.Popen([sys.executable, "-m", "uws_server.cli", "worker"],
                                      env=env, cwd=ROOT, stdout=worker_log,
                                      stderr=subprocess.STDOUT)
            worker_log.close()
            try:
                yield cls(web, worker, data_dir, database_url)
            finally:
                stop(worker)


def service_env(data_dir: Path, database_url: str,
                extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the service's processes: the bench's own, plus its data.

    Every other setting keeps its default (log level included: production logs each
    creation), whatever the caller's environment says, unless ``extra`` sets it.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("UWS_", "GUNICORN_"))}
    env.update({"UWS_DATA_DIR": str(data_dir), "UWS_DATABASE_URL": database_url})
    env.update(extra or {})
    return env


@contextlib.contextmanager
def ceiling(work_dir: Path, port: int) -> Iterator[Gunicorn]:
    """The trivial Flask endpoint under the service's gunicorn configuration.

    The configuration's start-up hook migrates a database; the ceiling gets a throw-away
    SQLite of its own so that it never touches the service's.
    """
    data_dir = work_dir / "ceiling"
    env = service_env(data_dir, "")
    with Gunicorn.start("baseline_app:app", port, env, work_dir / "ceiling.log", "/trivial",
                        chdir=ROOT / "bench") as server:
        yield server


_SETTINGS = ("workers", "worker_class", "threads", "timeout", "accesslog", "loglevel")


def gunicorn_settings(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The values of ``uws_server.gunicorn_conf`` the bench runs with (read, not copied).

    Read in a child process: importing the module sets up the logging of whoever imports it.
    """
    code = ("import json, uws_server.gunicorn_conf as c; "
            f"print(json.dumps({{n: getattr(c, n, None) for n in {_SETTINGS!r}}}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False,
                          env=env or service_env(Path(tempfile.gettempdir()), ""))
    if done.returncode != 0:
        raise RuntimeError(f"cannot read uws_server.gunicorn_conf: {done.stderr[-500:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the peer -----------------------------------------------------------------------------
@dataclass
class Dachs:
    """GAVO DaCHS run by ``dachs-setup.sh``; restarted before every measurement.

    DaCHS 2.7 gets slower with every XML document a server process has rendered (see the
    script's header), so each measurement starts on a fresh process that has served none.
    """

    script: Path
    port: int = int(os.environ.get("DACHS_PORT", "18080"))
    restarts: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        """The server's root URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def list_url(self) -> str:
        """The job list of the custom (non-TAP) UWS service the script's ``useruws`` adds."""
        return f"{self.base}/uwspeer/q/double/uws.xml"

    def _run(self, command: str, timeout: float = 300) -> None:
        done = subprocess.run(["bash", str(self.script), command], capture_output=True,
                              text=True, timeout=timeout, check=False)
        self.log.append(f"{command}: rc={done.returncode}")
        if done.returncode != 0:
            raise RuntimeError(f"dachs-setup.sh {command} failed: "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")

    def prepare(self) -> None:
        """Start DaCHS, and add the custom UWS service unless it answers already."""
        self._run("start")
        if requests.get(self.list_url, timeout=10).status_code != 200:
            self._run("useruws")

    def restart(self) -> None:
        """A fresh server process, so that earlier measurements do not slow this one."""
        self._run("restart", timeout=120)
        self.restarts += 1

    @property
    def pid(self) -> int:
        """The pid of the running server process."""
        return int(Path("/var/gavo/state/web.pid").read_text().strip())
