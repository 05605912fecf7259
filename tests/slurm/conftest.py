"""A real single-node Slurm cluster for the ``slurm``-marked tests.

The session fixture runs ``scripts/slurm-cluster.sh start`` in a fresh
temporary directory and ``stop`` at the end (every daemon it started, by pid
file). Accounting (slurmdbd) is on when ``SLURM_TEST_ACCOUNTING=1``, off when
``0``, and otherwise on when slurmdbd is installed and the database at
``SLURM_TEST_DB_HOST:SLURM_TEST_DB_PORT`` answers. When the cluster cannot be
started the tests skip saying why, unless ``UWS_REQUIRE_SLURM=1`` (CI), which
makes that an error.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from uws_server.executors.slurm.executor import SlurmExecutor
from uws_server.executors.slurm.settings import SlurmSettings

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm-cluster.sh"
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


@dataclass(frozen=True)
class Cluster:
    """A running test cluster: its directory, SLURM_CONF and whether sacct works."""

    directory: Path
    conf: str
    accounting: bool

    def env(self) -> dict[str, str]:
        """An environment for running Slurm commands against this cluster."""
        return {**os.environ, "SLURM_CONF": self.conf, "TZ": "UTC"}

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run a Slurm command as an outsider (the test), not through the executor."""
        return subprocess.run(
            argv, env=self.env(), capture_output=True, text=True, timeout=30, check=False
        )


def _find(program: str) -> str | None:
    return shutil.which(program) or shutil.which(program, path=os.pathsep.join(SBIN))


def _database_answers() -> bool:
    host = os.environ.get("SLURM_TEST_DB_HOST", "127.0.0.1")
    port = int(os.environ.get("SLURM_TEST_DB_PORT", "3306"))
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _want_accounting() -> bool:
    choice = os.environ.get("SLURM_TEST_ACCOUNTING")
    if choice in {"0", "1"}:
        return choice == "1"
    return _find("slurmdbd") is not None and _database_answers()


def _unavailable(reason: str) -> None:
    if os.environ.get("UWS_REQUIRE_SLURM") == "1":
        pytest.fail(f"UWS_REQUIRE_SLURM=1 but no Slurm cluster: {reason}", pytrace=False)
    pytest.skip(f"no Slurm cluster: {reason}")


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Cluster]:
    """Start the cluster once per session; stop every daemon it started at the end."""
    if os.geteuid() != 0:
        _unavailable("the test cluster runs its daemons and jobs as root; run the tests as root")
    missing = [p for p in ("slurmctld", "slurmd", "munged", "sbatch") if _find(p) is None]
    if missing:
        _unavailable(f"{', '.join(missing)} not installed (run: {SCRIPT} install)")
    accounting = _want_accounting()
    directory = Path(tempfile.mkdtemp(prefix="uws-slurm-"))
    env = {
        **os.environ,
        "PATH": os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN]),
        "SLURM_TEST_ACCOUNTING": "1" if accounting else "0",
    }
    try:
        started = subprocess.run(
            [str(SCRIPT), "start", str(directory)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        started = None
    try:
        if started is None or started.returncode != 0:
            why = "timed out" if started is None else started.stderr.strip()[-800:]
            _unavailable(f"{SCRIPT.name} start failed: {why}")
        conf = started.stdout.strip().splitlines()[-1]
        yield Cluster(directory=directory, conf=conf, accounting=accounting)
    finally:
        subprocess.run([str(SCRIPT), "stop", str(directory)], env=env, timeout=120, check=False)
        shutil.rmtree(directory, ignore_errors=True)


#: Executor modes: how jobs are followed once they leave squeue.
MODES = {
    "json": {"json": "yes", "accounting": "no"},
    "text-scontrol": {"json": "no", "accounting": "no"},
    "text-sacct": {"json": "no", "accounting": "yes"},
}


@pytest.fixture(scope="session")
def service() -> str:
    """A service id unique to this test session, so old jobs never interfere."""
    return f"uws-test-{uuid.uuid4().hex[:8]}"


def make_executor(cluster: Cluster, service: str, **settings: object) -> SlurmExecutor:
    """An executor talking to the test cluster."""
    options = {"slurm_conf": cluster.conf, "command_timeout": 15.0, **settings}
    return SlurmExecutor(SlurmSettings(**options), service=service)  # type: ignore[arg-type]


@pytest.fixture
def executor(slurm_cluster: Cluster, service: str) -> Iterator[SlurmExecutor]:
    """The executor in its default mode (``auto`` JSON and accounting detection)."""
    executor = make_executor(slurm_cluster, service)
    yield executor
    executor.close()


@pytest.fixture(params=sorted(MODES))
def any_executor(
    request: pytest.FixtureRequest, slurm_cluster: Cluster, service: str
) -> Iterator[SlurmExecutor]:
    """The executor in each way of following jobs (JSON, text+scontrol, text+sacct)."""
    mode = MODES[request.param]
    if mode["accounting"] == "yes" and not slurm_cluster.accounting:
        pytest.skip("the test cluster runs without accounting (no slurmdbd/database)")
    executor = make_executor(slurm_cluster, service, **mode)
    yield executor
    executor.close()


def slurm_state(cluster: Cluster, backend_id: str) -> str:
    """The job's state as squeue prints it (``PENDING``, ``RUNNING``...), or ``""``."""
    return cluster.run("squeue", "--noheader", "--states=all", "--format=%T",
                       f"--jobs={backend_id}").stdout.strip()


@pytest.fixture
def full_node(slurm_cluster: Cluster) -> Iterator[str]:
    """A job of the test's own that takes the whole node, so that other jobs stay pending.

    Yields its Slurm job id once it runs; it is cancelled at the end (a test may do so
    earlier to let the pending jobs start).
    """
    blocker = slurm_cluster.run("sbatch", "--parsable", "--exclusive", "--output=/dev/null",
                                "--wrap=sleep 300").stdout.strip()
    try:
        assert blocker.isdigit(), blocker
        deadline = time.monotonic() + 60
        while slurm_state(slurm_cluster, blocker) != "RUNNING":
            assert time.monotonic() < deadline, "the blocking job never started"
            time.sleep(0.3)
        yield blocker
    finally:
        slurm_cluster.run("scancel", blocker)
