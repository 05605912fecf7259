"""Per-job-type checks (services/validators.py): the job service runs the check of a job's
type on creation and on every parameter change, before anything is written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from tests.support import job_dirs
from uws_server.config import Settings
from uws_server.errors import InvalidParameter, PermissionDenied
from uws_server.identity import ANONYMOUS
from uws_server.services.validators import JobValidators


class NoSecrets:
    """Refuses an echo message that mentions a secret; remembers what it was shown."""

    def __init__(self) -> None:
        self.seen: list[dict[str, list[str]]] = []

    def __call__(self, settings: Settings, values: Mapping[str, Sequence[str]]) -> None:
        self.seen.append({name: list(found) for name, found in values.items()})
        if any("secret" in value for value in values.get("message", [])):
            raise InvalidParameter("message: may not mention a secret")


def test_a_check_refuses_a_job_of_its_type_before_anything_is_written(components):
    check = NoSecrets()
    components.jobs.validators.add("echo", check)
    with pytest.raises(InvalidParameter, match="secret"):
        components.jobs.create(ANONYMOUS, "echo", [("message", "a secret")], {})
    assert check.seen == [{"message": ["a secret"]}]
    assert list(components.jobs.list(ANONYMOUS, "echo")) == []
    assert not job_dirs(components.settings.data_dir)
    assert components.jobs.create(ANONYMOUS, "echo", [("message", "public")], {}).id


def test_a_check_sees_only_its_own_job_type(components):
    check = NoSecrets()
    components.jobs.validators.add("echo", check)
    components.jobs.create(ANONYMOUS, "sleep", [("seconds", "0")], {})
    assert check.seen == []


def test_a_parameter_change_is_checked_with_the_values_the_job_would_have(components):
    check = NoSecrets()
    components.jobs.validators.add("echo", check)
    job = components.jobs.create(ANONYMOUS, "echo", [("message", "public")], {})
    with pytest.raises(InvalidParameter, match="secret"):
        components.jobs.update_parameters(ANONYMOUS, "echo", job.id, [("message", "secret")], {})
    assert check.seen[-1] == {"message": ["secret"]}
    [param] = components.jobs.get(ANONYMOUS, "echo", job.id).parameters
    assert param.value == "public"


def test_one_check_per_job_type():
    validators = JobValidators()
    validators.add("echo", NoSecrets())
    with pytest.raises(ValueError, match="echo"):
        validators.add("echo", NoSecrets())


def test_the_ocps_allow_lists_are_the_ocps_types_check(components):
    # the fixture's service sets no allow-lists: every ocps job is refused, whatever the door
    with pytest.raises(PermissionDenied, match="UWS_OCPS_ALLOWED_COMMANDS"):
        components.jobs.create(ANONYMOUS, "ocps", [("command", "true"), ("url", "https://x")],
                               {})
