"""The executor against a real HTCondor pool (marker ``condor_pool``).

By default the test pool of ``scripts/condor-pool.sh`` (see :mod:`tests.htcondor.pool`):
run as root, the executor submits as the pool's submit user through its IDTOKEN. With
``UWS_CONDOR_POOL=<collector host>`` another pool, as the current (non-root) user: the
compose pool's ``submit`` container or any access point (``condor/README.md``, "Running the
pool tests"). Optional variables: ``UWS_CONDOR_SCHEDD`` (schedd name),
``UWS_CONDOR_POOL_SPOOL=1`` (remote access point: spool and retrieve),
``UWS_CONDOR_POOL_WORKDIR`` (where job directories go, default the temporary directory),
``UWS_CONDOR_POOL_TIMEOUT`` (seconds to wait for a job, default 300).
"""

from __future__ import annotations

import os
import time

import pytest

from tests.htcondor.conftest import handle_for, make_spec
from tests.htcondor.pool import Pool, pool_session
from uws_server.executors.base import BackendState, JobHandle, Resources
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings

pytestmark = pytest.mark.condor_pool

TIMEOUT = float(os.environ.get("UWS_CONDOR_POOL_TIMEOUT", "300"))
SERVICE = f"uws-pool-test-{os.getpid()}"
FINAL = {
    BackendState.COMPLETED,
    BackendState.FAILED,
    BackendState.CANCELLED,
    BackendState.TIMED_OUT,
}


@pytest.fixture(scope="session")
def condor_pool():
    yield from pool_session()


@pytest.fixture
def root(condor_pool: Pool):
    """A directory for job directories, owned by the user the jobs run as."""
    return condor_pool.directory("exec")


def pool_settings(pool: Pool, **changes) -> HTCondorSettings:
    """Executor settings for the pool (short reconciliation, generous call timeout)."""
    values = dict(
        collector=pool.collector,
        schedd_name=os.environ.get("UWS_CONDOR_SCHEDD") or None,
        spool=os.environ.get("UWS_CONDOR_POOL_SPOOL", "") in ("1", "yes", "true"),
        reconcile_interval=5,
        call_timeout=60,
    )
    values.update(changes)
    return HTCondorSettings(**values)


@pytest.fixture
def pool_executor(condor_pool: Pool, monkeypatch: pytest.MonkeyPatch):
    for name, value in condor_pool.env.items():  # the schedd helper process inherits these
        monkeypatch.setenv(name, value)
    executor = HTCondorExecutor(pool_settings(condor_pool), service=SERVICE)
    yield executor
    for backend_id in executor.orphans([]):  # remove whatever a failed test left behind
        executor._schedd.act("Remove", [backend_id], "uws pool test cleanup")
    executor.close()


def spec(root, job_id, argv, **changes):
    """A job spec whose directories belong to the owner of ``root`` (the jobs' user)."""
    changes.setdefault("resources", Resources(cpus=1, mem_mib=64, disk_mib=64))
    changes.setdefault("service", SERVICE)
    changes.setdefault("input_files", ())
    job = make_spec(root, job_id, argv=argv, **changes)
    owner = root.stat()
    if os.geteuid() == 0 and owner.st_uid != 0:
        for top, dirs, files in os.walk(job.workdir):
            for path in (top, *(os.path.join(top, n) for n in (*dirs, *files))):
                os.chown(path, owner.st_uid, owner.st_gid)
    return job


def wait(executor, handles: dict[str, JobHandle], until=FINAL, timeout=TIMEOUT):
    """Poll like the dispatcher (cursor carried over) until every job is in ``until``."""
    deadline = time.monotonic() + timeout
    statuses = {}
    while time.monotonic() < deadline:
        statuses = executor.poll(handles)
        for job_id, status in statuses.items():
            handles[job_id] = JobHandle(
                handles[job_id].backend_id, handles[job_id].workdir, status.cursor
            )
        if all(s.state in until for s in statuses.values()):
            return statuses
        time.sleep(1)
    pytest.fail(f"jobs did not reach {until} in {timeout} s: {statuses}")


def test_run_wait_and_collect_results_with_nasty_arguments(pool_executor, root):
    nasty = '$(Foo) $$(x) it\'s "quoted"'
    job = spec(
        root,
        "poolrun1",
        ("/bin/sh", "-c", 'printf %s "$1" > outputs/arg.txt; echo hi', "sh", nasty),
    )
    backend_id = pool_executor.submit(job, "tok").backend_id
    status = wait(pool_executor, {job.job_id: handle_for(job, backend_id)})[job.job_id]
    assert status.state is BackendState.COMPLETED, status
    assert status.exit_code == 0 and status.started_at and status.ended_at
    assert (job.output_dir / "arg.txt").read_text() == nasty
    assert job.stdout_path.read_text().strip() == "hi"
    assert pool_executor.find(job.job_id, "tok") == backend_id


def test_abort_cancels_a_running_job(pool_executor, root):
    job = spec(root, "poolabort", ("/bin/sleep", "600"))
    backend_id = pool_executor.submit(job, "tok").backend_id
    handles = {job.job_id: handle_for(job, backend_id)}
    wait(pool_executor, handles, until={BackendState.EXECUTING})
    pool_executor.cancel(job.job_id, handles[job.job_id])
    status = wait(pool_executor, handles)[job.job_id]
    assert status.state is BackendState.CANCELLED and status.cancelled_by_service


def test_duration_limit_times_the_job_out(pool_executor, root):
    job = spec(root, "pooldur", ("/bin/sleep", "600"), execution_duration=600)
    backend_id = pool_executor.submit(job, "tok").backend_id
    handles = {job.job_id: handle_for(job, backend_id)}
    wait(pool_executor, handles, until={BackendState.EXECUTING})
    pool_executor.update_duration(job.job_id, handles[job.job_id], 3)
    # The shadow evaluates periodic_remove every PERIODIC_EXPR_INTERVAL (5 s on the test
    # pool): the edit must reach it (SetDirty), else the job would sleep its 600 s.
    status = wait(pool_executor, handles, timeout=min(TIMEOUT, 90))[job.job_id]
    assert status.state is BackendState.TIMED_OUT, status


def test_user_hold_is_held_and_a_bad_executable_fails_as_a_system_failure(pool_executor, root):
    sleeper = spec(root, "poolhold", ("/bin/sleep", "600"))
    broken = spec(root, "poolbad", ("/nonexistent/program",))
    handles = {
        sleeper.job_id: handle_for(sleeper, pool_executor.submit(sleeper, "t").backend_id),
        broken.job_id: handle_for(broken, pool_executor.submit(broken, "t").backend_id),
    }
    pool_executor._schedd.act("Hold", [handles[sleeper.job_id].backend_id], "pool test hold")
    statuses = wait(pool_executor, handles, until=FINAL | {BackendState.HELD})
    assert statuses[sleeper.job_id].state is BackendState.HELD
    failed = statuses[broken.job_id]
    assert failed.state is BackendState.FAILED and failed.system_failure, failed
    pool_executor.cancel(sleeper.job_id, handles[sleeper.job_id])


def test_bulk_submission_runs_every_job_of_one_cluster(pool_executor, root):
    jobs = [
        spec(root, f"poolbulk{i}", ("/bin/sh", "-c", f"echo {i} > outputs/n.txt")) for i in range(3)
    ]
    subs = pool_executor.submit_many(jobs, ["a", "b", "c"])
    assert len({s.backend_id.split(".")[0] for s in subs}) == 1
    handles = {j.job_id: handle_for(j, s.backend_id) for j, s in zip(jobs, subs, strict=True)}
    statuses = wait(pool_executor, handles)
    for i, job in enumerate(jobs):
        assert statuses[job.job_id].state is BackendState.COMPLETED
        assert (job.output_dir / "n.txt").read_text().strip() == str(i)


def test_dollardollar_reaches_the_job_literally_in_arguments_and_environment(
    pool_executor, root
):
    """``$$(x)`` is escaped as ``$$(DOLLARDOLLAR)(x)``, which the schedd un-escapes at match
    time (not at submit time, where ``Submit.expand`` checks the rest): only a real pool shows
    that the job gets ``$$(x)`` back, in its arguments and in its environment."""
    value = "$$(Cpus) $$(x) $(y) $$"
    job = spec(
        root,
        "pooldollar",
        ("/bin/sh", "-c", 'printf %s "$1" > outputs/arg.txt; printf %s "$VALUE" > outputs/env.txt',
         "sh", value),
        env={"VALUE": value},
    )
    backend_id = pool_executor.submit(job, "tok").backend_id
    status = wait(pool_executor, {job.job_id: handle_for(job, backend_id)})[job.job_id]
    assert status.state is BackendState.COMPLETED, status
    assert (job.output_dir / "arg.txt").read_text() == value
    assert (job.output_dir / "env.txt").read_text() == value


def test_an_empty_outputs_directory_transfers_and_the_job_completes(pool_executor, root):
    job = spec(root, "poolempty", ("/bin/true",))
    backend_id = pool_executor.submit(job, "tok").backend_id
    status = wait(pool_executor, {job.job_id: handle_for(job, backend_id)})[job.job_id]
    assert status.state is BackendState.COMPLETED, status
    assert job.output_dir.is_dir() and list(job.output_dir.iterdir()) == []


def test_outputs_are_in_place_when_the_terminate_event_is_read(pool_executor, root):
    """The executor reports COMPLETED from the terminate event (005) of the job's event log;
    HTCondor writes it only once output transfer is over, so the outputs are complete then."""
    size = 64 * 1024 * 1024
    job = spec(root, "poolorder",
               ("/bin/sh", "-c", f"head -c {size} /dev/zero > outputs/big.bin; echo done"))
    backend_id = pool_executor.submit(job, "tok").backend_id
    handles = {job.job_id: handle_for(job, backend_id)}
    deadline = time.monotonic() + TIMEOUT
    while True:  # poll the event log as fast as it goes, to catch a terminate event early
        status = pool_executor.poll(handles)[job.job_id]
        handles[job.job_id] = JobHandle(backend_id, job.workdir, status.cursor)
        if status.state in FINAL:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    big = job.output_dir / "big.bin"
    assert status.state is BackendState.COMPLETED, status
    assert big.is_file() and big.stat().st_size == size
