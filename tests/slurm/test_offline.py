"""The executor against fake Slurm commands (shell scripts replaying recorded output).

These pin down behaviour that a healthy real cluster cannot show on demand:
a hung controller, missing ``--json`` support, refusals by policy, and the
exact argv handed to each command.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from tests.slurm.helpers import make_spec
from uws_server.executors.base import BackendState, ExecutorError, JobHandle
from uws_server.executors.slurm.executor import CANCEL_MARKER, SlurmExecutor
from uws_server.executors.slurm.runner import SlurmRunner
from uws_server.executors.slurm.settings import SlurmSettings

DATA = Path(__file__).parent / "data"


def fake_bin(tmp_path: Path, **bodies: str) -> Path:
    """A directory of fake Slurm commands; each logs its argv to ``calls.log``."""
    directory = tmp_path / "bin"
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in bodies.items():
        path = directory / name
        path.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\n" "{name} $*" >> {directory}/calls.log\n'
            f'printf "%s\\n" "$TZ" > {directory}/{name}.tz\n'
            f"{body}\n"
        )
        path.chmod(0o755)
    return directory


def executor_for(directory: Path, **settings: object) -> SlurmExecutor:
    options = {"bin_prefix": str(directory), "command_timeout": 5.0, **settings}
    # The recorded outputs are root's jobs.
    return SlurmExecutor(SlurmSettings(**options), service="rec", uid=0)  # type: ignore[arg-type]


def calls(directory: Path) -> list[str]:
    path = directory / "calls.log"
    return path.read_text().splitlines() if path.exists() else []


NO_JSON_SQUEUE = f"""case "$*" in
  *--json*) echo "squeue: unrecognized option '--json'" >&2; exit 1;;
esac
cat {DATA}/active_squeue.txt"""


def test_without_json_support_squeue_text_and_scontrol_history_are_used(tmp_path):
    directory = fake_bin(
        tmp_path,
        squeue=NO_JSON_SQUEUE,
        scontrol=f"cat {DATA}/final_scontrol_show_job.txt",
    )
    executor = executor_for(directory, accounting="no")
    handles = {
        "queued": JobHandle("20_1", tmp_path),
        "running": JobHandle("18", tmp_path),
        "failed": JobHandle("14", tmp_path),
        "gone": JobHandle("999", tmp_path),
    }
    answer = executor.poll(handles)
    assert answer["queued"].state is BackendState.QUEUED
    assert answer["running"].state is BackendState.EXECUTING
    assert answer["failed"].state is BackendState.FAILED
    assert answer["failed"].exit_code == 3
    assert answer["gone"].state is BackendState.UNKNOWN
    assert calls(directory)[1].startswith("squeue -h -r --me --states=all --format=")
    assert calls(directory)[2] == "scontrol -o show job"
    # Once detected, --json is not tried again.
    executor.poll({"running": handles["running"]})
    assert [c for c in calls(directory) if "--json" in c] == ["squeue --json --me"]


def test_queries_run_in_utc_so_that_text_timestamps_are_utc(tmp_path):
    directory = fake_bin(tmp_path, squeue=NO_JSON_SQUEUE)
    executor_for(directory).poll({"a": JobHandle("18", tmp_path)})
    assert (directory / "squeue.tz").read_text() == "UTC\n"


def test_sacct_history_is_used_when_accounting_is_detected(tmp_path):
    directory = fake_bin(
        tmp_path,
        squeue=NO_JSON_SQUEUE,
        scontrol='echo "AccountingStorageType   = accounting_storage/slurmdbd"',
        sacct=f"cat {DATA}/sacct.txt",
    )
    executor = executor_for(directory)
    answer = executor.poll({"a": JobHandle("6_1", tmp_path), "b": JobHandle("5", tmp_path)})
    assert (answer["a"].state, answer["a"].exit_code) == (BackendState.FAILED, 1)
    assert answer["b"].state is BackendState.TIMED_OUT
    sacct_call = next(c for c in calls(directory) if c.startswith("sacct"))
    assert sacct_call.endswith("--jobs=6_1,5")
    assert executor.accounting_enabled() is True


def test_json_squeue_answers_without_any_history_lookup(tmp_path):
    directory = fake_bin(tmp_path, squeue=f"cat {DATA}/final_squeue.json")
    executor = executor_for(directory, accounting="no")
    marker_dir = tmp_path / "job"
    marker_dir.mkdir()
    (marker_dir / CANCEL_MARKER).write_text("x")
    answer = executor.poll(
        {
            "a": JobHandle("20_2", marker_dir),
            "b": JobHandle("18", tmp_path),
            "c": JobHandle("17", tmp_path),
        }
    )
    assert (answer["a"].state, answer["a"].cancelled_by_service) == (BackendState.CANCELLED, True)
    assert (answer["b"].state, answer["b"].cancelled_by_service) == (BackendState.CANCELLED, False)
    assert answer["c"].state is BackendState.TIMED_OUT
    assert [c.split()[0] for c in calls(directory)] == ["squeue"]


def test_orphans_lists_live_tagged_jobs_whose_uws_id_is_unknown(tmp_path):
    directory = fake_bin(tmp_path, squeue=f"cat {DATA}/active_squeue.json")
    executor = executor_for(directory)
    orphans = executor.orphans(["run", "a1", "a3"])
    # Finished jobs (done, fail, ...) are not orphans: nothing to cancel.
    assert sorted(orphans) == ["17", "19", "20_0", "20_2"]
    assert executor.free_slots() == 10000 - 7


def test_jobs_of_other_users_are_never_ours_even_with_our_comment(tmp_path):
    directory = fake_bin(
        tmp_path,
        squeue=f"cat {DATA}/active_squeue.json",
        scontrol=f"cat {DATA}/active_scontrol_show_job.txt",
    )
    settings = SlurmSettings(bin_prefix=str(directory), accounting="no")
    executor = SlurmExecutor(settings, service="rec", uid=4242)
    assert executor.orphans([]) == []
    assert executor.free_slots() == 10000
    assert executor.poll({"a": JobHandle("18", tmp_path)})["a"].state is BackendState.UNKNOWN


def test_a_hung_command_is_killed_at_the_deadline_with_a_transient_error(tmp_path):
    directory = fake_bin(tmp_path, squeue=f"sleep 60 & echo $! > {tmp_path}/child.pid; wait")
    executor = executor_for(directory, command_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ExecutorError) as info:
        executor.poll({"a": JobHandle("1", tmp_path)})
    assert time.monotonic() - started < 3
    assert info.value.transient is True
    child = int((tmp_path / "child.pid").read_text())
    time.sleep(0.2)
    assert not is_alive(child), "the command's own children must be killed too"


def is_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper counts as dead)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def test_an_unreachable_controller_message_is_a_transient_error(tmp_path):
    directory = fake_bin(
        tmp_path,
        squeue="echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1",
    )
    with pytest.raises(ExecutorError) as info:
        executor_for(directory, json="no").poll({"a": JobHandle("1", tmp_path)})
    assert info.value.transient is True


def test_missing_slurm_commands_are_a_permanent_error(tmp_path):
    with pytest.raises(ExecutorError) as info:
        executor_for(tmp_path / "nowhere").poll({"a": JobHandle("1", tmp_path)})
    assert info.value.transient is False


def test_sbatch_refusal_by_policy_is_permanent_and_controller_trouble_transient(tmp_path):
    spec = make_spec(tmp_path / "jobs", ["true"], service="rec")
    refuse = fake_bin(
        tmp_path / "a",
        sbatch='echo "sbatch: error: Batch job submission failed: Invalid account" >&2; exit 1',
    )
    with pytest.raises(ExecutorError) as info:
        executor_for(refuse).submit(spec, "t")
    assert info.value.transient is False
    down = fake_bin(
        tmp_path / "b",
        sbatch='echo "sbatch: error: Batch job submission failed: Socket timed out" >&2; exit 1',
    )
    with pytest.raises(ExecutorError) as info:
        executor_for(down).submit(spec, "t")
    assert info.value.transient is True


def test_submit_passes_only_the_script_path_and_never_logs_secrets(tmp_path, caplog):
    directory = fake_bin(tmp_path, sbatch='echo "4242;uwstest"')
    spec = make_spec(
        tmp_path / "jobs",
        ["prog", "arg"],
        env={"TOKEN": "hunter2-secret"},
        secret_env=frozenset({"TOKEN"}),
        service="rec",
    )
    with caplog.at_level(logging.DEBUG, logger="uws_server"):
        submission = executor_for(directory).submit(spec, "tok")
    assert submission.backend_id == "4242"
    assert calls(directory) == [f"sbatch --parsable {spec.workdir / 'slurm.sbatch'}"]
    assert "hunter2" not in caplog.text
    assert "hunter2" not in (spec.workdir / "slurm.sbatch").read_text()


def test_sbatch_gets_only_exported_variables_of_the_service_environment(tmp_path):
    directory = fake_bin(tmp_path, sbatch=f"env > {tmp_path}/sbatch.env; echo 7")
    settings = SlurmSettings(bin_prefix=str(directory), export_env=("PATH", "KEEP_ME"))
    runner = SlurmRunner(
        settings,
        {"PATH": os.defpath, "KEEP_ME": "1", "UWS_DB_PASSWORD": "dbpass", "SQUEUE_FORMAT": "%i"},
    )
    executor = SlurmExecutor(settings, service="rec", runner=runner, uid=0)
    executor.submit(make_spec(tmp_path / "jobs", ["true"], service="rec"), "t")
    seen = (tmp_path / "sbatch.env").read_text()
    assert "KEEP_ME=1" in seen
    assert "dbpass" not in seen
    assert "SQUEUE_FORMAT" not in seen


def test_a_spec_of_another_service_is_refused(tmp_path):
    directory = fake_bin(tmp_path, sbatch="echo 1")
    with pytest.raises(ExecutorError) as info:
        executor_for(directory).submit(make_spec(tmp_path / "jobs", ["true"], service="other"), "t")
    assert info.value.transient is False
    assert calls(directory) == []


def test_cancel_leaves_the_marker_and_tolerates_an_already_finished_job(tmp_path):
    directory = fake_bin(
        tmp_path,
        scancel="echo 'scancel: error: Kill job error: Job/step already completing' >&2",
    )
    executor_for(directory).cancel("job", JobHandle("5", tmp_path))
    assert (tmp_path / CANCEL_MARKER).exists()
    assert calls(directory) == ["scancel --full 5"]


def test_cancel_raises_when_scancel_fails_for_another_reason(tmp_path):
    directory = fake_bin(
        tmp_path, scancel='echo "scancel: error: Access/permission denied" >&2; exit 1'
    )
    with pytest.raises(ExecutorError):
        executor_for(directory).cancel("job", JobHandle("5", tmp_path))


@pytest.mark.parametrize(
    ("seconds", "limit"), [(0, "UNLIMITED"), (60, "1"), (61, "2"), (3600, "60")]
)
def test_update_duration_sets_the_time_limit_in_whole_minutes(tmp_path, seconds, limit):
    directory = fake_bin(tmp_path, scontrol="true")
    executor_for(directory).update_duration("job", JobHandle("5_2", tmp_path), seconds)
    assert calls(directory) == [f"scontrol update JobId=5_2 TimeLimit={limit}"]


def test_submit_many_splits_arrays_so_that_each_comment_fits_slurms_limit(tmp_path):
    counter = tmp_path / "counter"
    directory = fake_bin(
        tmp_path,
        sbatch=f"n=$(($(cat {counter} 2>/dev/null || echo 100) + 1)); echo $n > {counter}; echo $n",
    )
    specs = [make_spec(tmp_path / "jobs", ["true"], service="rec") for _ in range(45)]
    tokens = [f"token-{i}" for i in range(45)]
    submissions = executor_for(directory).submit_many(specs, tokens)
    arrays = [int(s.backend_id.split("_")[0]) for s in submissions]
    assert arrays == sorted(arrays) and len(set(arrays)) == 3
    scripts = [line.split()[-1] for line in calls(directory)]
    for script in scripts:
        comment = next(
            line for line in Path(script).read_text().splitlines() if "--comment=" in line
        )
        assert len(comment.split("=", 1)[1]) <= 1024
    # Task ids restart at 0 in each array, in the order of the specs.
    first_of_second = arrays.index(arrays[0] + 1)
    assert submissions[first_of_second].backend_id == f"{arrays[0] + 1}_0"
    assert submissions[first_of_second - 1].backend_id.endswith(f"_{first_of_second - 1}")
