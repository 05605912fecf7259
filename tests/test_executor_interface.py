"""The executor interface: the dispatcher calls only what the base class declares.

Every optional backend feature has its default in :class:`~uws_server.executors.base.Executor`,
so nothing in the service probes an executor with ``getattr``/``hasattr``, and a backend that
says it can hold jobs really releases them.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import uws_server
from tests.fakes import FakeBackend, FakeExecutor, HoldingFakeExecutor
from uws_server.executors.base import (
    ORPHAN_WORKDIR,
    BackendState,
    Executor,
    ExecutorError,
    JobHandle,
    JobSpec,
)
from uws_server.executors.htcondor import HTCondorExecutor
from uws_server.executors.local import LocalExecutor
from uws_server.executors.slurm import SlurmExecutor

EXECUTORS = [LocalExecutor, SlurmExecutor, HTCondorExecutor, FakeExecutor, HoldingFakeExecutor]
PACKAGE = Path(uws_server.__file__).parent


def _executor_uses() -> dict[str, str]:
    """What the service reads on an executor (``executor.X``, ``self.executor.X``,
    ``self.d.executor.X``...), each with one place it does so."""
    used: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value
            name = (owner.attr if isinstance(owner, ast.Attribute)
                    else owner.id if isinstance(owner, ast.Name) else "")
            if name in ("executor", "_executor"):
                used.setdefault(node.attr, f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return used


def test_the_service_uses_nothing_of_an_executor_that_the_base_class_does_not_declare():
    used = _executor_uses()
    assert {"submit", "poll", "release", "remove_orphan", "min_poll_interval", "close"} <= set(
        used), used
    undeclared = {name: where for name, where in used.items() if not hasattr(Executor, name)
                  and name not in inspect.get_annotations(Executor)}
    assert undeclared == {}


def test_no_module_of_the_service_probes_an_executor_with_getattr_or_hasattr():
    probes = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and node.args
                    and "executor" in ast.unparse(node.args[0]).lower()):
                probes.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)}")
    assert probes == []


@pytest.mark.parametrize("cls", EXECUTORS, ids=lambda cls: cls.__name__)
def test_every_executor_is_a_complete_executor_that_releases_if_it_can_hold(cls):
    assert issubclass(cls, Executor)
    assert not inspect.isabstract(cls), cls.__abstractmethods__
    assert isinstance(cls.name, str) and cls.name
    assert (cls.release is not Executor.release) is cls.can_hold
    if cls.supports_bulk_submit:
        assert cls.submit_many is not Executor.submit_many
    assert cls.min_poll_interval >= 0 and cls.duration_grace >= 0


def test_the_backends_that_hold_jobs_are_slurm_and_htcondor():
    assert {cls.name for cls in (LocalExecutor, SlurmExecutor, HTCondorExecutor)
            if cls.can_hold} == {"slurm", "htcondor"}


def test_an_executor_missing_a_required_method_cannot_be_built():
    class Incomplete(Executor):
        name = "incomplete"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_the_default_release_refuses_permanently_naming_the_backend(tmp_path):
    executor = FakeExecutor(FakeBackend())
    with pytest.raises(ExecutorError, match="fake executor cannot hold jobs") as info:
        executor.release("job1", JobHandle("fake.0", tmp_path))
    assert info.value.transient is False


def test_the_default_orphan_removal_cancels_the_job_through_a_handle_without_a_directory(
        tmp_path):
    backend = FakeBackend()
    executor = FakeExecutor(backend)
    spec = JobSpec(job_id="j1", job_type="echo", argv=("/bin/true",), env={},
                   workdir=tmp_path, output_dir=tmp_path)
    orphan = executor.submit(spec, "token").backend_id
    executor.remove_orphan(orphan)
    assert backend.jobs[0].state is BackendState.CANCELLED
    assert not ORPHAN_WORKDIR.exists()
