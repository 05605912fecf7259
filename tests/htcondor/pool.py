"""The real HTCondor pool of the ``condor_pool`` tests, and live servers that submit to it.

Which pool:

* By default the **test pool** of ``scripts/condor-pool.sh`` (a personal pool in a Debian sid
  chroot, see ``condor/README.md``). The tests run as root, as CI does; HTCondor refuses jobs
  owned by root, so everything that submits does so as the pool's dedicated submit user:
  the in-process executor of ``test_pool.py`` authenticates with that user's IDTOKEN (written by
  ``condor-pool.sh start``), and the live servers of ``test_pool_http.py`` run *as* that user,
  from its venv (this checkout installed in it), exactly like a deployment. When the pool is
  installed but not running, the session starts it and stops it at the end.
* With ``UWS_CONDOR_POOL=<collector host>``, that pool instead (the compose pool, any access
  point), as the current, non-root user: only the executor-level tests run there.

When no pool can be had the tests skip saying why, unless ``UWS_REQUIRE_CONDOR_POOL=1`` (CI),
which makes that an error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.support import LiveServer, free_port

CHECKOUT = Path(__file__).resolve().parents[2]
SCRIPT = CHECKOUT / "scripts" / "condor-pool.sh"
POOL_DIR = Path(os.environ.get("CONDOR_POOL_DIR", "/var/lib/uws-condor-pool"))
POOL_USER = os.environ.get("CONDOR_POOL_USER", "uwscondor")
EXTERNAL = os.environ.get("UWS_CONDOR_POOL", "")
#: Where job and data directories of the tests go: under /tmp, which the test pool shares.
BASE = Path(os.environ.get("UWS_CONDOR_POOL_WORKDIR") or tempfile.gettempdir())


@dataclass(frozen=True)
class Pool:
    """A running pool and how to submit to it.

    Attributes
    ----------
    collector
        The collector (``host[:port]``) the executor locates the schedd with.
    env
        Environment of processes of *this* (test) process that talk to the pool: as root
        on the test pool, the client configuration and the submit user's IDTOKEN.
    user_env
        Environment of processes that run as the submit user (live servers).
    uid, gid
        The submit user, who must own every job directory.
    pool_dir
        The test pool's directory (``None``: an external pool).
    """

    collector: str
    env: dict[str, str]
    user_env: dict[str, str]
    uid: int
    gid: int
    pool_dir: Path | None = None
    made: list[Path] = field(default_factory=list)

    @property
    def venv(self) -> Path | None:
        """The submit user's venv (test pool only)."""
        return None if self.pool_dir is None else self.pool_dir / "venv"

    def directory(self, name: str) -> Path:
        """A new empty directory owned by the submit user, under ``BASE``."""
        path = BASE / f"uws-condor-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.mkdir(mode=0o755)
        self.give(path)
        self.made.append(path)
        return path

    def give(self, path: Path) -> None:
        """Hand ``path`` and everything under it to the submit user (when run as root)."""
        if os.geteuid() != 0 or self.uid == 0:
            return
        for top, dirs, files in os.walk(path):
            os.chown(top, self.uid, self.gid)
            for name in (*dirs, *files):
                os.chown(os.path.join(top, name), self.uid, self.gid, follow_symlinks=False)

    def condor(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run an HTCondor command-line tool against the pool (inside the test pool's chroot)."""
        if self.pool_dir is not None:
            master = (self.pool_dir / "run" / "master.pid").read_text().strip()
            prefix = ["nsenter", "--target", master, "--mount", "--",
                      "chroot", str(self.pool_dir / "root")]
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}  # the chroot's own configuration
        else:
            prefix, env = [], dict(os.environ)
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)


_lock = threading.Lock()
_state: dict[str, object] = {"pool": None, "users": 0, "started": False, "why": None}


def _unavailable(reason: str) -> None:
    _state["why"] = reason
    if os.environ.get("UWS_REQUIRE_CONDOR_POOL") == "1":
        pytest.fail(f"UWS_REQUIRE_CONDOR_POOL=1 but no HTCondor pool: {reason}", pytrace=False)
    pytest.skip(f"no HTCondor pool: {reason}")


def _script(command: str, timeout: float) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run([str(SCRIPT), command], capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None


def _test_pool() -> Pool:
    if os.geteuid() != 0:
        _unavailable("the test pool (scripts/condor-pool.sh) runs its daemons as root and the "
                     "tests submit through its submit user: run the tests as root, or name "
                     "another pool with UWS_CONDOR_POOL")
    if not (POOL_DIR / "root" / ".uws-minicondor").is_file():
        _unavailable(f"not installed in {POOL_DIR} (run: {SCRIPT} install)")
    status = _script("status", 30)
    if status is None or status.returncode != 0:
        started = _script("start", 120)
        if started is None or started.returncode != 0:
            why = "timed out" if started is None else started.stderr.strip()[-800:]
            _unavailable(f"{SCRIPT.name} start failed: {why}")
        _state["started"] = True
    installed = (POOL_DIR / "venv" / ".uws-checkout").read_text().split(" ", 1)[0]
    if Path(installed) != CHECKOUT:
        _unavailable(f"the submit user's venv has {installed} installed, not {CHECKOUT} "
                     f"(run: {SCRIPT} install)")
    bound = (POOL_DIR / "run" / "checkout").read_text().strip()
    if Path(bound) != CHECKOUT:
        _unavailable(f"the running pool shows jobs {bound}, not {CHECKOUT} "
                     f"(run: {SCRIPT} stop; {SCRIPT} start)")
    import pwd

    entry = pwd.getpwnam(POOL_USER)
    config = str(POOL_DIR / "condor_config")
    port = "9618"
    for line in Path(config).read_text().splitlines():
        if line.startswith("COLLECTOR_HOST"):
            port = line.rsplit(":", 1)[-1].strip()
    return Pool(
        collector=f"127.0.0.1:{port}",
        env={"CONDOR_CONFIG": config, "_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS": "IDTOKENS"},
        user_env={"CONDOR_CONFIG": config},
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        pool_dir=POOL_DIR,
    )


def acquire() -> Pool:
    """The pool, started on first use; every ``acquire`` needs a :func:`release`."""
    with _lock:
        if _state["why"] is not None:
            _unavailable(str(_state["why"]))
        if _state["pool"] is None:
            if EXTERNAL:
                _state["pool"] = Pool(collector=EXTERNAL, env={}, user_env={}, uid=os.getuid(),
                                      gid=os.getgid())
            else:
                _state["pool"] = _test_pool()
        _state["users"] = int(_state["users"]) + 1  # type: ignore[call-overload]
        pool = _state["pool"]
        assert isinstance(pool, Pool)
        return pool


def release() -> None:
    """One user less; the last one stops a pool the session started and removes directories."""
    with _lock:
        _state["users"] = int(_state["users"]) - 1  # type: ignore[call-overload]
        pool = _state["pool"]
        if _state["users"] or not isinstance(pool, Pool):
            return
        for path in pool.made:
            shutil.rmtree(path, ignore_errors=True)
        pool.made.clear()
        if _state["started"]:
            _script("stop", 60)
            _state["started"] = False
        _state["pool"] = None


def pool_session() -> Iterator[Pool]:
    """The body of a module's session fixture ``condor_pool``: ``yield from pool_session()``.

    (Fixtures imported into several modules would be set up once per module; this
    reference-counted pool is started and stopped once.)
    """
    pool = acquire()
    try:
        yield pool
    finally:
        release()


def user_process(pool: Pool, argv: list[str], data_dir: Path, log_name: str,
                 **env: str) -> subprocess.Popen[bytes]:
    """Start a command of the submit user's venv as the submit user (output to a log file)."""
    assert pool.venv is not None and pool.pool_dir is not None
    environ = {
        "PATH": f"{pool.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(pool.pool_dir / "home"),
        "LANG": "C.UTF-8",
        **pool.user_env,
        "UWS_DATA_DIR": str(data_dir),
        **env,
    }
    with open(data_dir / log_name, "ab") as log:
        return subprocess.Popen(
            [str(pool.venv / "bin" / "python"), *argv], env=environ, cwd=CHECKOUT,
            stdout=log, stderr=subprocess.STDOUT, user=pool.uid, group=pool.gid,
            extra_groups=[],
        )


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path,
                         timeout: float = 60) -> None:
    """Wait until ``url`` answers 200, or fail with the process's log."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or still starting up on a busy machine
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """Terminate a process of ours (by its handle), killing it if it does not stop."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def pool_server(pool: Pool, name: str, **env: str) -> Iterator[LiveServer]:
    """A live ``uws-server serve`` with ``UWS_EXECUTOR=htcondor``, run as the submit user."""
    if pool.pool_dir is None:
        pytest.skip("live servers on the pool need the test pool (scripts/condor-pool.sh)")
    data_dir = pool.directory(name)
    port = free_port()
    settings = {
        "UWS_EXECUTOR": "htcondor",
        "UWS_HTCONDOR_COLLECTOR": pool.collector,
        "UWS_HTCONDOR_RECONCILE_INTERVAL": "10",
        "UWS_SERVICE_NAME": f"uws-pool-{name}-{uuid.uuid4().hex[:8]}",
        "UWS_POLL_INTERVAL": "0.2",
        "UWS_LOG_LEVEL": "INFO",
        **env,
    }
    process = user_process(pool, ["-m", "uws_server.cli", "serve", "--port", str(port),
                                  "--threads", "8"], data_dir, "server.log", **settings)
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir,
                        f"sqlite:///{data_dir / 'uws.sqlite3'}", process,
                        data_dir / "server.log")
    try:
        wait_until_answering(f"{server.url}/uws", process, server.log_path)
        yield server
    finally:
        stop(process)
