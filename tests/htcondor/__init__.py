"""Tests of the HTCondor execution backend (no daemons needed, except test_pool.py)."""
