"""Reasons the service writes into HTCondor, as the schedd gives them back."""

from __future__ import annotations

from uws_server.executors.htcondor import reasons


def test_the_schedds_by_user_suffix_is_not_part_of_the_hold_reason():
    removed = reasons.hold_cleanup_reason("Transfer input files failure") + " (by user uws)"
    assert reasons.held_reason_of(removed) == "Transfer input files failure"
    assert reasons.held_reason_of(reasons.hold_cleanup_reason("odd (by user x) inside")) == (
        "odd (by user x) inside"
    )


def test_a_service_abort_is_recognised_with_the_suffix():
    assert reasons.is_service_abort(reasons.ABORT_REASON + " (by user uws)")
    assert not reasons.is_service_abort("via condor_rm (by user admin)")
