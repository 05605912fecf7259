"""The duration policy (``periodic_remove``) evaluated by the real ClassAd library."""

from __future__ import annotations

import time

import classad2
import pytest

from uws_server.executors.htcondor.submit import periodic_remove_expression

IDLE, RUNNING, HELD, SUSPENDED = 1, 2, 5, 7


def evaluate(status: int, running_for: float, limit: int) -> bool:
    now = int(time.time())
    ad = classad2.ClassAd(
        {
            "JobStatus": status,
            "JobCurrentStartDate": now - int(running_for),
            "UwsMaxDuration": limit,
        }
    )
    ad["PeriodicRemove"] = classad2.ExprTree(periodic_remove_expression())
    value = ad.eval("PeriodicRemove")
    assert isinstance(value, bool), value
    return value


def test_a_running_job_over_its_limit_is_removed():
    assert evaluate(RUNNING, running_for=120, limit=60) is True


def test_a_running_job_under_its_limit_is_kept():
    assert evaluate(RUNNING, running_for=30, limit=60) is False


@pytest.mark.parametrize("status", [IDLE, HELD, SUSPENDED])
def test_a_job_that_is_not_running_is_never_removed(status):
    assert evaluate(status, running_for=10_000, limit=60) is False


def test_a_zero_duration_means_no_limit():
    assert evaluate(RUNNING, running_for=10**7, limit=0) is False


def test_the_limit_is_read_live_so_an_edit_takes_effect():
    now = int(time.time())
    ad = classad2.ClassAd(
        {"JobStatus": RUNNING, "JobCurrentStartDate": now - 100, "UwsMaxDuration": 600}
    )
    ad["PeriodicRemove"] = classad2.ExprTree(periodic_remove_expression())
    assert ad.eval("PeriodicRemove") is False
    ad["UwsMaxDuration"] = 50  # what Schedd.edit(..., "UwsMaxDuration", "50") does
    assert ad.eval("PeriodicRemove") is True
