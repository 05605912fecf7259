"""Exceptions named after what went wrong, each with its HTTP status.

Service functions raise these; the HTTP layer turns them into a one-line
message with the right status code. Nothing here knows about Flask.
"""

from __future__ import annotations


class UWSError(Exception):
    """A request the service refuses; ``status`` is the HTTP status to answer."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(UWSError):
    """A value that cannot be parsed or fails its type; names the parameter."""

    status = 400


class UnknownJobType(UWSError):
    """No job type (or version) of that name."""

    status = 404


class JobNotFound(UWSError):
    """No job of that id visible to the caller (never existed or destroyed)."""

    status = 404


class BatchNotFound(UWSError):
    """No batch of that id visible to the caller (never existed, deleted, or not theirs)."""

    status = 404


class ResourceNotFound(UWSError):
    """A job sub-resource that does not exist (no error, no such result)."""

    status = 404


class WrongPhase(UWSError):
    """The request is illegal in the job's current phase (UWS §2.2: 403)."""

    status = 403


class PermissionDenied(UWSError):
    """The caller may not see or change this job."""

    status = 403


class NotAuthenticated(UWSError):
    """Credentials are required and were missing or wrong."""

    status = 401


class PayloadTooLarge(UWSError):
    """An upload or request body over the configured limit."""

    status = 413


class JobTypeInactive(UWSError):
    """The job type accepts no new jobs."""

    status = 409


class Conflict(UWSError):
    """The request conflicts with the current state of a resource."""

    status = 409


class QuotaExceeded(UWSError):
    """A per-user limit (active jobs, stored jobs, upload bytes) would be passed."""

    status = 429
