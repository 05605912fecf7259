"""Manifest arrays without a cluster: what the script holds, what the manifest maps, scancel ids."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.slurm.helpers import evil_values, make_spec
from uws_server.executors.slurm import arrays
from uws_server.executors.slurm.script import token_tag
from uws_server.executors.slurm.settings import SlurmSettings


def test_the_scancel_ids_of_many_tasks_are_ranges_per_array():
    ids = ["7_0", "7_1", "7_2", "7_5", "9_3", "12", "7_6"]
    assert arrays.compress_ids(ids) == ["12", "7_[0-2,5-6]", "9_3"]


def test_a_manifest_maps_each_task_to_its_job_and_token_digest(tmp_path):
    specs = [make_spec(tmp_path / "jobs", ["true"]) for _ in range(3)]
    name = arrays.write_manifest(tmp_path / "spool", specs, ["t0", "t1", "t2"])
    assert arrays.read_manifest(tmp_path / "spool", name) == [
        (s.job_id, token_tag(t)) for s, t in zip(specs, ["t0", "t1", "t2"], strict=True)]
    comment = arrays.manifest_comment("svc", name)
    assert arrays.manifest_name(comment, "svc") == name
    assert arrays.manifest_name(comment, "other") is None
    assert arrays.manifest_name("uws:svc:@../../etc", "svc") is None


def test_the_array_script_holds_no_client_value_and_each_task_runs_its_own_job(tmp_path):
    pwned = tmp_path / "pwned"
    specs = [make_spec(tmp_path / "jobs", ["/bin/echo", value]) for value in evil_values(pwned)]
    spool = tmp_path / "spool"
    name = arrays.write_manifest(spool, specs, [f"t{i}" for i in range(len(specs))])
    script = arrays.render_manifest_script(specs, spool, name, SlurmSettings())
    for value in evil_values(pwned):
        assert len(value) < 4 or value not in script  # ("*" is in any sed expression)
    for spec in specs:
        arrays.write_task_file(spec)
        (spec.workdir / ".uws-slurm-env.sh").write_text("")
    path = tmp_path / "array.sh"
    path.write_text(script)
    for task, spec in enumerate(specs):
        subprocess.run(["/bin/sh", str(path)], env={"SLURM_ARRAY_TASK_ID": str(task),
                                                     "PATH": "/usr/bin:/bin"},
                       check=True, timeout=30)
        assert (spec.workdir / "stdout.txt").read_text() == spec.argv[1] + "\n"
    assert not pwned.exists()
    missing = subprocess.run(["/bin/sh", str(path)], env={"SLURM_ARRAY_TASK_ID": "999"},
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and "no such array task" in missing.stderr


def test_job_directories_with_spaces_are_read_whole_from_the_manifest(tmp_path: Path):
    spec = make_spec(tmp_path / "with space", ["/bin/echo", "ok"])
    spool = tmp_path / "spool"
    name = arrays.write_manifest(spool, [spec, make_spec(tmp_path / "b", ["true"])], ["a", "b"])
    arrays.write_task_file(spec)
    (spec.workdir / ".uws-slurm-env.sh").write_text("")
    script = tmp_path / "array.sh"
    script.write_text(arrays.render_manifest_script([spec], spool, name, SlurmSettings()))
    subprocess.run(["/bin/sh", str(script)], env={"SLURM_ARRAY_TASK_ID": "0"}, check=True,
                   timeout=30)
    assert (spec.workdir / "stdout.txt").read_text() == "ok\n"
