"""The start-up check for paths HTCondor hides from jobs (``MOUNT_UNDER_SCRATCH``)."""

from __future__ import annotations

import logging
import sys

import pytest

from tests.htcondor.fake_schedd import FakeSchedd
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings, scratch


@pytest.mark.parametrize(
    ("value", "paths"),
    [
        ('"/tmp,/var/tmp"', ("/tmp", "/var/tmp")),  # the 24+ default: a string literal
        ("/tmp, /scratch/", ("/tmp", "/scratch")),  # the older plain list
        ("", ()),
        (None, ()),
        ('ifThenElse(WantTmp, "/tmp", "")', None),  # an expression: cannot be known
    ],
)
def test_the_setting_is_read_in_each_of_its_forms(value, paths):
    assert scratch.parse(value) == paths


def test_a_path_under_a_mount_is_named_with_the_setting_and_the_remedy():
    mounts = ("/tmp", "/var/tmp")
    [message] = scratch.warnings(mounts, interpreter="/tmp/ci/.venv/bin/python")
    assert "/tmp/ci/.venv/bin/python" in message and "MOUNT_UNDER_SCRATCH" in message
    assert "condor/README.md" in message
    assert scratch.warnings(mounts, interpreter="/srv/uws/venv/bin/python") == []
    assert scratch.warnings(mounts, interpreter="/tmpfoo/python") == []  # a path boundary
    assert scratch.warnings((), interpreter="/tmp/python") == []
    # the job root matters only when jobs run in it (shared file mode)
    assert scratch.warnings(mounts, job_root="/tmp/uws/jobs") == []
    assert scratch.warnings(mounts, job_root="/tmp/uws/jobs", shared=True)


def test_the_executor_says_so_at_start_up_and_at_the_first_submission(
    monkeypatch, caplog, spec_factory, tmp_path
):
    monkeypatch.setattr(scratch, "configured", lambda: ("/tmp", "/var/tmp", str(tmp_path)))
    monkeypatch.setattr(sys, "executable", "/tmp/venv/bin/python3")
    caplog.set_level(logging.WARNING, logger="uws_server.executors.htcondor")
    executor = HTCondorExecutor(
        HTCondorSettings(file_mode="shared"), service="uws-test", schedd=FakeSchedd()
    )
    assert any("/tmp/venv/bin/python3" in r.getMessage() for r in caplog.records)
    caplog.clear()
    spec = spec_factory("s1", argv=("/tmp/tools/prog",))
    executor.submit(spec, "t1")
    messages = [r.getMessage() for r in caplog.records]
    assert any("job root" in m and str(spec.workdir.parent) in m for m in messages), messages
    assert any("/tmp/tools/prog" in m for m in messages), messages
    caplog.clear()
    executor.submit(spec_factory("s2", argv=("/tmp/tools/prog",)), "t2")
    assert caplog.records == []  # once per job root and program


def test_a_job_root_given_at_start_up_is_checked_then_and_only_then(
    monkeypatch, caplog, spec_factory, tmp_path
):
    monkeypatch.setattr(scratch, "configured", lambda: (str(tmp_path),))
    caplog.set_level(logging.WARNING, logger="uws_server.executors.htcondor")
    spec = spec_factory("r1")
    executor = HTCondorExecutor(HTCondorSettings(file_mode="shared"), service="uws-test",
                                schedd=FakeSchedd(), job_root=spec.workdir.parent)
    assert [r.getMessage() for r in caplog.records if "job root" in r.getMessage()]
    caplog.clear()
    executor.submit(spec, "t1")
    assert not [r for r in caplog.records if "job root" in r.getMessage()]
    caplog.clear()
    HTCondorExecutor(HTCondorSettings(), service="uws-test", schedd=FakeSchedd(),
                     job_root=spec.workdir.parent)
    assert caplog.records == []  # transfer mode: jobs never see the job root
