"""Transfer mode: paths under the job directory reach the job relative to its scratch dir."""

from __future__ import annotations

from uws_server.executors.htcondor import HTCondorSettings
from uws_server.executors.htcondor.submit import build_description


def test_option_values_under_the_job_directory_become_relative(spec_factory):
    spec = spec_factory("opt1")
    work = str(spec.workdir)
    spec = spec_factory(
        "opt1",
        argv=("/usr/bin/prog", f"--job-dir={work}", f"--output-dir={work}/outputs",
              f"-o={work}/outputs/x.txt", "--other=/srv/elsewhere", f"--near={work}x",
              f"{work}/inputs/data.txt", f"text={work}"),
    )
    arguments = build_description(spec, "t", HTCondorSettings()).commands["arguments"]
    assert arguments == ('"--job-dir=. --output-dir=outputs -o=outputs/x.txt '
                         f'--other=/srv/elsewhere --near={work}x inputs/data.txt text={work}"')


def test_shared_mode_keeps_every_path(spec_factory):
    spec = spec_factory("opt2")
    spec = spec_factory("opt2", argv=("/usr/bin/prog", f"--job-dir={spec.workdir}"))
    settings = HTCondorSettings(file_mode="shared")
    arguments = build_description(spec, "t", settings).commands["arguments"]
    assert arguments == f'"--job-dir={spec.workdir}"'
