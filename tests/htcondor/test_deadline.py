"""Every schedd call runs in a helper process with a deadline: a hung schedd never freezes us."""

from __future__ import annotations

import threading
import time

import pytest

from uws_server.executors.base import ExecutorError
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings
from uws_server.executors.htcondor.schedd import ChildProcessSchedd

FAKE = "tests.htcondor.fake_schedd"


class Ticker:
    """A thread counting while the test's main thread waits on the schedd."""

    def __init__(self) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.count += 1
            time.sleep(0.01)

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def hung():
    schedd = ChildProcessSchedd(
        f"{FAKE}:hanging_schedd", {"seconds": 3600}, timeout=1.0, startup_timeout=20.0
    )
    yield schedd
    schedd.close()


def test_a_hung_schedd_raises_a_transient_error_within_the_deadline(hung):
    with Ticker() as ticker:
        started = time.monotonic()
        with pytest.raises(ExecutorError) as caught:
            hung.query("true", ["ClusterId"])
        elapsed = time.monotonic() - started
        ticks_during_call = ticker.count
    assert caught.value.transient
    assert "timed out" in str(caught.value)
    assert 1.0 <= elapsed < 1.0 + 20.0  # the deadline (plus start-up), never an hour
    assert ticks_during_call > 20  # the calling process kept running meanwhile


def test_every_executor_call_on_a_hung_schedd_fails_fast_and_transiently(hung, spec_factory):
    executor = HTCondorExecutor(service="uws-test", schedd=hung)
    spec = spec_factory()
    for call in (
        lambda: executor.find(spec.job_id, "t"),
        lambda: executor.orphans([]),
        lambda: executor.submit(spec, "t"),
    ):
        started = time.monotonic()
        with pytest.raises(ExecutorError) as caught:
            call()
        assert caught.value.transient
        assert time.monotonic() - started < 30


def test_the_helper_is_replaced_after_a_timeout():
    schedd = ChildProcessSchedd(f"{FAKE}:fake_schedd", timeout=10.0)
    try:
        assert schedd.query("true", []) == []
        first = schedd._proc.pid
        schedd._proc.kill()  # as the deadline would
        schedd._proc.join()
        assert schedd.query("true", []) == []
        assert schedd._proc.pid != first
    finally:
        schedd.close()


def test_a_failing_factory_is_reported_as_a_transient_error():
    schedd = ChildProcessSchedd(f"{FAKE}:no_such_factory", timeout=5.0)
    with pytest.raises(ExecutorError) as caught:
        schedd.query("true", [])
    assert caught.value.transient
    schedd.close()


def test_the_real_schedd_without_a_pool_fails_promptly_not_forever():
    """No daemons here: locating a schedd fails, through the same helper and deadline."""
    schedd = ChildProcessSchedd.for_settings(
        HTCondorSettings(schedd_name="nowhere.invalid", collector="127.0.0.1:1", call_timeout=15)
    )
    started = time.monotonic()
    try:
        with pytest.raises(ExecutorError) as caught:
            schedd.query("true", ["ClusterId"])
    finally:
        schedd.close()
    assert caught.value.transient
    assert time.monotonic() - started < 75


def test_importing_the_package_does_not_import_the_bindings():
    import subprocess
    import sys

    code = (
        "import sys, uws_server.executors.htcondor as m; "
        "m.HTCondorExecutor; "
        "sys.exit(1 if {'htcondor2', 'classad2', 'htcondor', 'classad'} & set(sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
