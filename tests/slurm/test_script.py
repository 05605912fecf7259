"""Batch-script generation: directives, quoting, secrets (no cluster needed).

The generated scripts are run with ``/bin/sh`` directly (``#SBATCH`` lines are
comments to a shell), which proves that client values reach the program
verbatim and are never interpreted by the shell.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.slurm.helpers import evil_values, make_spec
from uws_server.executors.base import ExecutorError, Resources
from uws_server.executors.slurm.script import (
    ENV_FILE,
    decode_comment,
    encode_comment,
    render_array_script,
    render_script,
    sbatch_path,
    token_tag,
    write_env_file,
)
from uws_server.executors.slurm.settings import SlurmSettings

DUMP_ARGV = "import json, os, sys; json.dump(sys.argv[1:], open('argv.json', 'w'))"
DUMP_ENV = "import json, os; json.dump(dict(os.environ), open('env.json', 'w'))"


def directives(script: str) -> list[str]:
    return [
        line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH")
    ]


def run_locally(script: str, workdir: Path, env: dict[str, str] | None = None) -> None:
    """Run a batch script with sh, as slurmd would (cwd = workdir)."""
    path = workdir / "local.sh"
    path.write_text(script)
    subprocess.run(["/bin/sh", str(path)], cwd=workdir, env=env, check=True, timeout=30)


def test_directives_carry_ids_limits_resources_and_site_settings(tmp_path):
    spec = make_spec(
        tmp_path,
        ["prog"],
        duration=90,
        resources=Resources(cpus=1.5, mem_mib=300.2, gpus=2, disk_mib=1024),
    )
    settings = SlurmSettings(
        partition="short", account="astro", qos="high", extra_sbatch_args=("--constraint=avx2",)
    )
    lines = directives(render_script(spec, "tok-1", settings))
    assert f"--job-name=uws-test-type-{spec.job_id}" in lines
    assert f"--comment=uws:uws-test:{spec.job_id}:{token_tag('tok-1')}" in lines
    assert "--time=2" in lines  # 90 s rounds up to whole minutes
    assert "--cpus-per-task=2" in lines
    assert "--mem=301M" in lines
    assert "--tmp=1024M" in lines
    assert "--gres=gpu:2" in lines
    assert f'--output="{spec.stdout_path}"' in lines
    assert f'--error="{spec.stderr_path}"' in lines
    assert f'--chdir="{spec.workdir}"' in lines
    assert {"--partition=short", "--account=astro", "--qos=high", "--constraint=avx2"} <= set(lines)


def test_unlimited_duration_and_no_resources_write_no_limit_directives(tmp_path):
    spec = make_spec(tmp_path, ["prog"], duration=0)
    lines = directives(render_script(spec, "t", SlurmSettings()))
    assert not [line for line in lines if line.startswith(("--time", "--mem", "--cpus", "--gres"))]
    assert not [line for line in lines if line.startswith(("--partition", "--account", "--qos"))]


def test_argv_reaches_the_program_verbatim_and_no_shell_interprets_it(tmp_path):
    pwned = tmp_path / "pwned"
    evil = evil_values(pwned)
    spec = make_spec(tmp_path, [sys.executable, "-c", DUMP_ARGV, *evil])
    write_env_file(spec)
    run_locally(render_script(spec, "t", SlurmSettings()), spec.workdir)
    assert json.loads((spec.workdir / "argv.json").read_text()) == list(evil)
    assert not pwned.exists()


def test_a_leading_dash_program_name_is_still_exec_ed_as_argv0(tmp_path):
    program = tmp_path / "-dash prog"
    program.write_text(f"#!/bin/sh\necho ran > {tmp_path}/ran.txt\n")
    program.chmod(0o755)
    spec = make_spec(tmp_path, [str(program)])
    write_env_file(spec)
    run_locally(render_script(spec, "t", SlurmSettings()), spec.workdir)
    assert (tmp_path / "ran.txt").read_text() == "ran\n"


def test_env_values_reach_the_job_verbatim_through_the_private_env_file(tmp_path):
    pwned = tmp_path / "pwned"
    env = {f"EVIL_{i}": value for i, value in enumerate(evil_values(pwned))}
    env["API_KEY"] = "s3cr3t-'$(touch x)'-value"
    spec = make_spec(
        tmp_path, [sys.executable, "-c", DUMP_ENV], env=env, secret_env=frozenset({"API_KEY"})
    )
    env_file = write_env_file(spec)
    script = render_script(spec, "t", SlurmSettings())
    run_locally(script, spec.workdir, env={"PATH": os.defpath})
    seen = json.loads((spec.workdir / "env.json").read_text())
    assert {k: seen.get(k) for k in spec.env} == dict(spec.env)
    assert not pwned.exists()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "s3cr3t" not in script
    assert not [value for value in env.values() if len(value) > 3 and value in script]


def test_env_file_is_private_even_when_it_existed_with_wider_permissions(tmp_path):
    spec = make_spec(tmp_path, ["prog"], env={"A": "1"})
    path = spec.workdir / ENV_FILE
    path.write_text("old")
    path.chmod(0o644)
    write_env_file(spec)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (
        path.read_text()
        == f"export OUTPUT_DIR={spec.output_dir}\nexport JOB_ID={spec.job_id}\nexport A=1\n"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"env": {"BAD-NAME": "x"}},
        {"env": {"X": "a\0b"}},
        {"argv": ()},
        {"argv": ("a\0b",)},
        {"job_id": "../etc"},
        {"image": "docker://alpine"},
        {"service": "svc:with:colons"},
    ],
    ids=["env-name", "env-nul", "empty-argv", "argv-nul", "job-id", "image", "service"],
)
def test_unsafe_specs_are_refused_permanently(tmp_path, change):
    from dataclasses import replace

    spec = replace(make_spec(tmp_path, ["prog"]), **change)
    with pytest.raises(ExecutorError) as info:
        render_script(spec, "t", SlurmSettings())
    assert info.value.transient is False


@pytest.mark.parametrize("path", ['/a/"quote', "/a/new\nline", "relative/path", "/a\\b"])
def test_paths_that_would_break_an_sbatch_line_are_refused(path):
    with pytest.raises(ExecutorError):
        sbatch_path(Path(path))


def test_percent_in_paths_is_escaped_for_slurm_filename_patterns():
    assert sbatch_path(Path("/data/100%/out")) == '"/data/100%%/out"'


def test_comment_round_trips_and_other_services_comments_are_ignored():
    comment = encode_comment("svc", [("j1", "tokA"), ("j2", "tokB")])
    assert decode_comment(comment, "svc") == [("j1", token_tag("tokA")), ("j2", token_tag("tokB"))]
    assert decode_comment(comment, "other") is None
    assert decode_comment("uws:svc:", "svc") is None
    assert decode_comment(None, "svc") is None
    assert token_tag("tokA") != token_tag("tokB")


def test_array_script_runs_each_task_in_its_own_workdir_with_its_own_output(tmp_path):
    pwned = tmp_path / "pwned"
    specs = [
        make_spec(
            tmp_path,
            [
                sys.executable,
                "-c",
                "import os, sys; print(os.environ['JOB_ID'], sys.argv[1:])",
                arg,
            ],
            env={"SECRET": f"secret-{i}"},
            secret_env=frozenset({"SECRET"}),
            duration=duration,
        )
        for i, (arg, duration) in enumerate(
            zip(evil_values(pwned)[:3], (60, 600, 120), strict=True)
        )
    ]
    script = render_array_script(specs, ["a", "b", "c"], SlurmSettings())
    lines = directives(script)
    assert "--array=0-2" in lines
    assert "--time=10" in lines  # the longest; shorter tasks are updated after sbatch
    assert "--output=/dev/null" in lines
    assert not [line for line in script.splitlines() if "secret-" in line]
    for spec in specs:
        write_env_file(spec)
    for index, spec in enumerate(specs):
        env = {"PATH": os.defpath, "SLURM_ARRAY_TASK_ID": str(index)}
        run_locally(script, tmp_path, env=env)
        assert spec.stdout_path.read_text().startswith(spec.job_id)
    assert not pwned.exists()


def test_array_script_exits_non_zero_for_an_unknown_task(tmp_path):
    specs = [make_spec(tmp_path, ["true"]) for _ in range(2)]
    script = render_array_script(specs, ["a", "b"], SlurmSettings())
    path = tmp_path / "array.sh"
    path.write_text(script)
    result = subprocess.run(
        ["/bin/sh", str(path)], env={"SLURM_ARRAY_TASK_ID": "7"}, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "no such array task: 7" in result.stderr
