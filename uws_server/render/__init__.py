"""Representations: pure functions from job models to UWS XML and JSON."""
