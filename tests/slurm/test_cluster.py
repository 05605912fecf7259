"""The Slurm executor against a real single-node cluster (scripts/slurm-cluster.sh).

Jobs run fixed test programs (``sys.executable -c ...``, ``/bin/sleep``);
client-like values only ever travel as argv elements or environment values.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slurm.conftest import Cluster, make_executor
from tests.slurm.helpers import evil_values, make_spec, new_job_id, wait_for
from uws_server.executors.base import BackendState, ExecutorError, JobHandle, Submission
from uws_server.executors.slurm.executor import SlurmExecutor
from uws_server.executors.slurm.script import token_tag

pytestmark = pytest.mark.slurm

WRITE_OUTPUT = (
    "import os, sys; print('hello from', os.environ['JOB_ID']);"
    " open(os.path.join(os.environ['OUTPUT_DIR'], 'result.txt'), 'w').write('42')"
)
SLEEP = ("/bin/sleep", "300")


@pytest.fixture
def jobs_root(tmp_path: Path) -> Path:
    root = tmp_path / "jobs"
    root.mkdir()
    return root


@pytest.fixture
def scancel_later(slurm_cluster: Cluster) -> Iterator[list[str]]:
    """Backend ids to scancel after the test, whatever its outcome."""
    ids: list[str] = []
    yield ids
    if ids:
        slurm_cluster.run("scancel", *ids)


def handle_of(spec, submission: Submission) -> JobHandle:
    return JobHandle(backend_id=submission.backend_id, workdir=spec.workdir)


def scontrol_job(cluster: Cluster, backend_id: str) -> str:
    return cluster.run("scontrol", "-o", "show", "job", backend_id).stdout


def time_limit(cluster: Cluster, backend_id: str) -> str:
    match = re.search(r"TimeLimit=(\S+)", scontrol_job(cluster, backend_id))
    assert match, backend_id
    return match.group(1)


def test_job_runs_to_completed_with_its_stdout_and_output_file(any_executor, jobs_root, service):
    spec = make_spec(jobs_root, [sys.executable, "-c", WRITE_OUTPUT], service=service)
    handle = handle_of(spec, any_executor.submit(spec, "tok"))
    status = wait_for(any_executor, spec.job_id, handle)
    assert status.state is BackendState.COMPLETED, status
    assert status.exit_code == 0
    assert status.started_at is not None and status.started_at.tzinfo is not None
    assert status.ended_at is not None and status.ended_at >= status.started_at
    assert spec.stdout_path.read_text() == f"hello from {spec.job_id}\n"
    assert (spec.output_dir / "result.txt").read_text() == "42"


def test_failing_job_ends_failed_with_a_reason_naming_exit_code_3(any_executor, jobs_root, service):
    spec = make_spec(
        jobs_root,
        [sys.executable, "-c", "import sys; sys.stderr.write('bad input'); sys.exit(3)"],
        service=service,
    )
    handle = handle_of(spec, any_executor.submit(spec, "tok"))
    status = wait_for(any_executor, spec.job_id, handle)
    assert status.state is BackendState.FAILED, status
    assert status.exit_code == 3
    assert "exit code 3" in status.reason
    assert status.system_failure is False
    assert spec.stderr_path.read_text() == "bad input"


def test_service_cancel_ends_cancelled_by_service_and_the_job_leaves_squeue(
    executor, slurm_cluster, jobs_root, service
):
    seconds = f"300.{uuid.uuid4().int % 10**9}"  # names this job's process uniquely
    spec = make_spec(jobs_root, ("/bin/sleep", seconds), service=service)
    handle = handle_of(spec, executor.submit(spec, "tok"))
    wait_for(executor, spec.job_id, handle, {BackendState.EXECUTING})
    deadline = time.monotonic() + 15  # RUNNING is reported before slurmstepd starts the script
    while f"sleep {seconds}" not in slurm_cluster.run("ps", "-eo", "args").stdout:
        assert time.monotonic() < deadline, "the job's process never started"
        time.sleep(0.2)
    executor.cancel(spec.job_id, handle)
    status = wait_for(executor, spec.job_id, handle)
    assert status.state is BackendState.CANCELLED, status
    assert status.cancelled_by_service is True
    listed = slurm_cluster.run("squeue", "-h", "-o", "%i", "-j", f"{handle.backend_id},0")
    assert handle.backend_id not in listed.stdout.split()
    deadline = time.monotonic() + 10  # the process gets SIGTERM right after the state change
    while f"sleep {seconds}" in slurm_cluster.run("ps", "-eo", "args").stdout:
        assert time.monotonic() < deadline, "the cancelled job's process is still running"
        time.sleep(0.2)


def test_cancel_by_someone_else_is_cancelled_but_not_by_the_service(
    executor, slurm_cluster, jobs_root, service
):
    spec = make_spec(jobs_root, SLEEP, service=service)
    handle = handle_of(spec, executor.submit(spec, "tok"))
    wait_for(executor, spec.job_id, handle, {BackendState.EXECUTING})
    assert slurm_cluster.run("scancel", handle.backend_id).returncode == 0
    status = wait_for(executor, spec.job_id, handle)
    assert status.state is BackendState.CANCELLED, status
    assert status.cancelled_by_service is False


def test_exceeded_time_limit_ends_timed_out(
    executor, slurm_cluster, jobs_root, service, scancel_later
):
    spec = make_spec(jobs_root, SLEEP, duration=60, service=service)
    handle = handle_of(spec, executor.submit(spec, "tok"))
    scancel_later.append(handle.backend_id)
    assert time_limit(slurm_cluster, handle.backend_id) == "00:01:00"
    wait_for(executor, spec.job_id, handle, {BackendState.EXECUTING})
    # Slurm counts limits in minutes; moving the job's end to "now" (an operator
    # action) makes the limit expire at the controller's next check (<= 30 s).
    # Slurm refuses an end time that is not after the start (same second): try again.
    for _ in range(10):
        moved = slurm_cluster.run("scontrol", "update", f"JobId={handle.backend_id}",
                                  "EndTime=now")
        if moved.returncode == 0 or "Invalid time" not in moved.stderr:
            break
        time.sleep(1)
    assert moved.returncode == 0, moved.stderr
    status = wait_for(executor, spec.job_id, handle, timeout=75)
    assert status.state is BackendState.TIMED_OUT, status
    assert status.cancelled_by_service is False


def test_update_duration_changes_the_time_limit_seen_by_scontrol(
    executor, slurm_cluster, jobs_root, service, scancel_later
):
    spec = make_spec(jobs_root, SLEEP, duration=120, service=service)
    handle = handle_of(spec, executor.submit(spec, "tok"))
    scancel_later.append(handle.backend_id)
    assert time_limit(slurm_cluster, handle.backend_id) == "00:02:00"
    executor.update_duration(spec.job_id, handle, 600)
    assert time_limit(slurm_cluster, handle.backend_id) == "00:10:00"
    executor.update_duration(spec.job_id, handle, 90)
    assert time_limit(slurm_cluster, handle.backend_id) == "00:02:00"
    executor.update_duration(spec.job_id, handle, 0)
    assert time_limit(slurm_cluster, handle.backend_id) == "UNLIMITED"


def test_job_array_runs_each_job_to_completed_with_its_own_outputs(
    any_executor, slurm_cluster, jobs_root, service
):
    program = WRITE_OUTPUT + "; import time; time.sleep(2)"
    specs = [
        make_spec(jobs_root, [sys.executable, "-c", program], duration=d, service=service)
        for d in (120, 300, 300)
    ]
    tokens = ["t0", "t1", "t2"]
    submissions = any_executor.submit_many(specs, tokens)
    array_id = submissions[0].backend_id.split("_")[0]
    assert [s.backend_id for s in submissions] == [f"{array_id}_{i}" for i in range(3)]
    # The shorter task got its own limit; the others keep the array's.
    assert [time_limit(slurm_cluster, s.backend_id) for s in submissions] == [
        "00:02:00",
        "00:05:00",
        "00:05:00",
    ]
    assert any_executor.find(specs[1].job_id, "t1") == f"{array_id}_1"
    for spec, submission in zip(specs, submissions, strict=True):
        status = wait_for(any_executor, spec.job_id, handle_of(spec, submission))
        assert status.state is BackendState.COMPLETED, (spec.job_id, status)
        assert spec.stdout_path.read_text() == f"hello from {spec.job_id}\n"
        assert (spec.output_dir / "result.txt").read_text() == "42"
    statuses = any_executor.poll(
        {s.job_id: handle_of(s, sub) for s, sub in zip(specs, submissions, strict=True)}
    )
    assert {st.state for st in statuses.values()} == {BackendState.COMPLETED}


def test_find_adopts_a_lost_submission_and_returns_none_for_an_unknown_token(
    any_executor, jobs_root, service
):
    spec = make_spec(jobs_root, [sys.executable, "-c", "pass"], service=service)
    lost = any_executor.submit(spec, "the-token").backend_id  # the dispatcher "crashes" here
    assert any_executor.find(spec.job_id, "the-token") == lost
    assert any_executor.find(spec.job_id, "another-token") is None
    assert any_executor.find(new_job_id(), "the-token") is None
    wait_for(any_executor, spec.job_id, JobHandle(lost, spec.workdir))
    assert any_executor.find(spec.job_id, "the-token") == lost


def test_history_of_finished_jobs_holds_the_comment_find_relies_on(
    any_executor, jobs_root, service
):
    spec = make_spec(jobs_root, [sys.executable, "-c", "pass"], service=service)
    backend_id = any_executor.submit(spec, "tok").backend_id
    wait_for(any_executor, spec.job_id, JobHandle(backend_id, spec.workdir))
    deadline = time.monotonic() + 20  # slurmdbd records a job shortly after it ends
    while True:
        history = {r.backend_id: r for r in any_executor.queries.history_all()}
        if (backend_id in history and history[backend_id].comment) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert history[backend_id].comment == f"uws:{service}:{spec.job_id}:{token_tag('tok')}"


def test_a_held_job_is_reported_held_and_release_lets_it_run_to_completed(
    any_executor, slurm_cluster, full_node, jobs_root, service
):
    spec = make_spec(jobs_root, [sys.executable, "-c", WRITE_OUTPUT], service=service)
    handle = handle_of(spec, any_executor.submit(spec, "tok"))
    assert slurm_cluster.run("scontrol", "hold", handle.backend_id).returncode == 0
    status = wait_for(any_executor, spec.job_id, handle, {BackendState.HELD}, timeout=15)
    assert status.reason == "JobHeldAdmin"  # held by root, Slurm's administrator
    slurm_cluster.run("scancel", full_node)
    time.sleep(2)  # two scheduler passes: a held job does not start
    assert any_executor.poll({spec.job_id: handle})[spec.job_id].state is BackendState.HELD
    any_executor.release(spec.job_id, handle)
    status = wait_for(any_executor, spec.job_id, handle)
    assert status.state is BackendState.COMPLETED, status
    assert (spec.output_dir / "result.txt").read_text() == "42"


def test_releasing_a_job_that_is_not_held_or_is_over_is_no_error(
    executor, jobs_root, service, scancel_later
):
    sleeper = make_spec(jobs_root, SLEEP, service=service)
    running = handle_of(sleeper, executor.submit(sleeper, "tok"))
    scancel_later.append(running.backend_id)
    wait_for(executor, sleeper.job_id, running, {BackendState.EXECUTING})
    executor.release(sleeper.job_id, running)
    assert executor.poll({sleeper.job_id: running})[sleeper.job_id].state is (
        BackendState.EXECUTING
    )
    quick = make_spec(jobs_root, [sys.executable, "-c", "pass"], service=service)
    done = handle_of(quick, executor.submit(quick, "tok"))
    wait_for(executor, quick.job_id, done)
    executor.release(quick.job_id, done)
    executor.release("gone", JobHandle("987654", jobs_root))


def test_orphans_lists_a_tagged_job_whose_uws_id_is_unknown(
    executor, jobs_root, service, scancel_later
):
    spec = make_spec(jobs_root, SLEEP, service=service)
    backend_id = executor.submit(spec, "tok").backend_id
    scancel_later.append(backend_id)
    assert backend_id in executor.orphans(["some-other-job"])
    assert backend_id not in executor.orphans([spec.job_id])


def test_remove_orphan_scancels_the_job_without_writing_into_any_job_directory(
    executor, slurm_cluster, jobs_root, service
):
    spec = make_spec(jobs_root, SLEEP, service=service)
    backend_id = executor.submit(spec, "tok").backend_id
    executor.remove_orphan(backend_id)
    status = wait_for(executor, spec.job_id, JobHandle(backend_id, spec.workdir), timeout=30)
    assert status.state is BackendState.CANCELLED, status
    assert status.cancelled_by_service is False  # no marker: nobody asked to abort a UWS job
    assert backend_id not in executor.orphans([])


def test_free_slots_counts_this_services_live_jobs(slurm_cluster, jobs_root, scancel_later):
    own = f"uws-slots-{new_job_id()[:8]}"
    executor = make_executor(slurm_cluster, own, max_jobs=5)
    assert executor.free_slots() == 5
    specs = [make_spec(jobs_root, SLEEP, service=own) for _ in range(2)]
    scancel_later.extend(s.backend_id for s in executor.submit_many(specs, ["a", "b"]))
    assert executor.free_slots() == 3


def test_secrets_reach_the_job_but_not_the_script_scontrol_argv_or_logs(
    executor, slurm_cluster, jobs_root, service, caplog, monkeypatch
):
    secret = f"s3cr3t-{new_job_id()}"
    check = (
        "import hashlib, os;"
        " digest = hashlib.sha256(os.environ['API_KEY'].encode()).hexdigest();"
        " open(os.path.join(os.environ['OUTPUT_DIR'], 'check.txt'), 'w').write(digest)"
    )
    spec = make_spec(
        jobs_root,
        [sys.executable, "-c", check],
        env={"API_KEY": secret},
        secret_env=frozenset({"API_KEY"}),
        service=service,
    )
    seen_argv: list[tuple[str, ...]] = []
    real_run = executor.runner.run

    def spy(command, args, **kwargs):
        seen_argv.append((command, *args))
        return real_run(command, args, **kwargs)

    monkeypatch.setattr(executor.runner, "run", spy)
    with caplog.at_level(logging.DEBUG, logger="uws_server"):
        handle = handle_of(spec, executor.submit(spec, "tok"))
        status = wait_for(executor, spec.job_id, handle)
    assert status.state is BackendState.COMPLETED, status
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert (spec.output_dir / "check.txt").read_text() == digest
    assert secret not in caplog.text
    assert not [argv for argv in seen_argv if any(secret in a for a in argv)]
    stored = slurm_cluster.run("scontrol", "write", "batch_script", handle.backend_id, "-")
    assert stored.returncode == 0 and "#SBATCH" in stored.stdout
    assert secret not in stored.stdout
    assert secret not in (spec.workdir / "slurm.sbatch").read_text()
    assert secret not in scontrol_job(slurm_cluster, handle.backend_id)
    details = slurm_cluster.run("scontrol", "-dd", "show", "job", handle.backend_id).stdout
    assert secret not in details


def test_argv_values_reach_the_program_verbatim_through_real_slurm(
    executor, jobs_root, service, tmp_path
):
    pwned = tmp_path / "pwned"
    evil = evil_values(pwned)
    dump = "import json, sys; json.dump(sys.argv[1:], open('argv.json', 'w'))"
    spec = make_spec(
        jobs_root, [sys.executable, "-c", dump, *evil], env={"EVIL": evil[0]}, service=service
    )
    handle = handle_of(spec, executor.submit(spec, "tok"))
    status = wait_for(executor, spec.job_id, handle)
    assert status.state is BackendState.COMPLETED, (status, spec.stderr_path.read_text())
    assert json.loads((spec.workdir / "argv.json").read_text()) == list(evil)
    assert not pwned.exists()


def test_an_unreachable_controller_gives_a_transient_error_within_the_timeout(
    slurm_cluster, tmp_path, service
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conf = Path(slurm_cluster.conf).read_text()
    dead = tmp_path / "slurm.conf"
    dead.write_text(re.sub(r"(?m)^SlurmctldPort=\d+$", f"SlurmctldPort={port}", conf))
    executor = make_executor(
        Cluster(slurm_cluster.directory, str(dead), False), service, command_timeout=3.0
    )
    started = time.monotonic()
    with pytest.raises(ExecutorError) as info:
        executor.poll({"a": JobHandle("1", tmp_path)})
    assert time.monotonic() - started < 3.0 + 2.0
    assert info.value.transient is True


def test_unknown_job_id_is_reported_unknown(executor, tmp_path):
    answer = executor.poll({"a": JobHandle("987654", tmp_path)})
    assert answer["a"].state is BackendState.UNKNOWN


def test_executor_satisfies_the_protocol(executor):
    from uws_server.executors.base import Executor

    assert isinstance(executor, Executor)
    assert isinstance(executor, SlurmExecutor) and executor.name == "slurm"
