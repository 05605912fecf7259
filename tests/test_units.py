"""Pure pieces: times, phases, configuration, Seed manifests and argv building."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from uws_server.config import ConfigError, load_settings
from uws_server.phases import TRANSITIONS, ExecutionPhase, can_transition
from uws_server.seed import build_argv, check_manifest, coerce_value, parse_interface
from uws_server.services.jobtypes import version_key
from uws_server.timeutil import format_utc, parse_utc

EXAMPLES = Path(__file__).resolve().parent.parent / "uws_server" / "jobtypes"


def test_times_are_formatted_with_z_and_milliseconds():
    value = datetime(2026, 11, 22, 10, 0, 1, 250000, tzinfo=UTC)
    assert format_utc(value) == "2026-11-22T10:00:01.250Z"
    assert format_utc(None) == ""
    assert format_utc(datetime(2026, 1, 1)) == "2026-01-01T00:00:00.000Z"  # naive = UTC


@pytest.mark.parametrize("text,expected", [
    ("2030-01-01T00:00:00Z", datetime(2030, 1, 1, tzinfo=UTC)),
    ("2030-01-01T00:00:00", datetime(2030, 1, 1, tzinfo=UTC)),
    ("2030-01-01T12:00:00.123456Z", datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)),
    ("2030-01-01T12:00:00+02:00", datetime(2030, 1, 1, 10, tzinfo=UTC)),
    ("2030-01-01", datetime(2030, 1, 1, tzinfo=UTC)),
    ("2030-01-01t00:00:00z", datetime(2030, 1, 1, tzinfo=UTC)),
])
def test_iso_instants_are_parsed_the_way_clients_send_them(text, expected):
    assert parse_utc(text) == expected


@pytest.mark.parametrize("text", ["yesterday", "2030-13-01T00:00:00Z", "", "2030-01-01T25:00"])
def test_malformed_instants_are_refused_with_the_value_in_the_message(text):
    with pytest.raises(ValueError, match="datetime"):
        parse_utc(text)


def test_finished_phases_only_lead_to_archived():
    for phase in (ExecutionPhase.COMPLETED, ExecutionPhase.ERROR, ExecutionPhase.ABORTED):
        assert TRANSITIONS[phase] == frozenset({ExecutionPhase.ARCHIVED})
    assert not TRANSITIONS[ExecutionPhase.ARCHIVED]
    assert can_transition(ExecutionPhase.PENDING, ExecutionPhase.QUEUED)
    assert not can_transition(ExecutionPhase.PENDING, ExecutionPhase.EXECUTING)
    assert set(TRANSITIONS) == set(ExecutionPhase)


def test_phase_names_parse_in_any_case_and_unknown_ones_are_named():
    assert ExecutionPhase.parse("completed") is ExecutionPhase.COMPLETED
    with pytest.raises(ValueError, match="'DONE'"):
        ExecutionPhase.parse("DONE")


def test_settings_come_from_uws_variables_and_bad_values_are_named():
    settings = load_settings({"UWS_PORT": "9000", "UWS_ALLOW_URL_INPUTS": "no",
                              "UWS_SLURM_PARTITION": "debug"})
    assert settings.port == 9000
    assert settings.allow_url_inputs is False
    assert settings.extra["UWS_SLURM_PARTITION"] == "debug"
    with pytest.raises(ConfigError, match="UWS_PORT"):
        load_settings({"UWS_PORT": "eighty"})
    with pytest.raises(ConfigError, match="UWS_EXECUTOR"):
        load_settings({"UWS_EXECUTOR": "kubernetes"})


def test_settings_file_is_read_and_environment_wins(tmp_path):
    config = tmp_path / "uws.toml"
    config.write_text('port = 7000\nmax_wait = 30\n')
    settings = load_settings({"UWS_CONFIG": str(config), "UWS_MAX_WAIT": "10"})
    assert (settings.port, settings.max_wait) == (7000, 10)


@pytest.mark.parametrize("name", ["echo.json", "sleep.json", "wordcount.json"])
def test_example_manifests_are_valid(name):
    errors, warnings = check_manifest(json.loads((EXAMPLES / name).read_text()))
    assert errors == [] and warnings == []


def _echo() -> dict:
    return json.loads((EXAMPLES / "echo.json").read_text())


def test_manifest_problems_name_the_field_path_and_the_rule():
    manifest = _echo()
    manifest["job"]["name"] = "bad name!"
    del manifest["job"]["errors"][0]["name"]
    manifest["job"]["interface"]["inputs"]["json"].append({"name": "message", "type": "string"})
    errors, _ = check_manifest(manifest)
    names = {e.name for e in errors}
    assert "job.name" in names
    assert "job.errors[0]" in names  # 'name' is a required property
    assert "job.interface.inputs.message" in names  # duplicate
    assert any("required property" in e.description for e in errors)


def test_manifest_refuses_fractional_gpus_and_relative_mounts():
    manifest = _echo()
    manifest["job"]["resources"]["scalar"].append({"name": "gpus", "value": 0.5})
    manifest["job"]["interface"]["mounts"] = [{"name": "data", "path": "relative/path"}]
    errors, _ = check_manifest(manifest)
    assert {e.name for e in errors} >= {"job.resources.scalar[2].value",
                                        "job.interface.mounts[0].path"}


def test_inputs_named_like_uws_control_parameters_are_refused():
    manifest = copy.deepcopy(_echo())
    manifest["job"]["interface"]["inputs"]["json"].append({"name": "phase", "type": "string"})
    errors, _ = check_manifest(manifest)
    assert any("reserved" in e.description for e in errors)


def test_command_placeholders_expand_into_single_argv_entries():
    argv = build_argv("prog --msg ${m} ${files} out=${OUTPUT_DIR}/x ${absent}",
                      {"m": ["a b; rm -rf /"], "files": ["/j/1", "/j/2"], "OUTPUT_DIR": ["/o"]})
    assert argv == ["prog", "--msg", "a b; rm -rf /", "/j/1", "/j/2", "out=/o/x"]


@pytest.mark.parametrize("kind,raw,expected", [
    ("integer", "42", 42), ("number", "1.5", 1.5), ("number", "2", 2),
    ("boolean", "TRUE", True), ("boolean", "0", False), ("array", "[1,2]", [1, 2]),
    ("object", '{"a": 1}', {"a": 1}), ("string", " x ", " x "),
])
def test_values_are_coerced_to_the_manifest_type(kind, raw, expected):
    from uws_server.seed import InputSpec

    assert coerce_value(InputSpec("p", kind), raw) == expected


@pytest.mark.parametrize("kind,raw", [
    ("integer", "4.5"), ("number", "abc"), ("number", "nan"), ("boolean", "maybe"),
    ("array", "{}"), ("object", "[1]"),
])
def test_ill_typed_values_are_refused_saying_what_was_expected(kind, raw):
    from uws_server.seed import InputSpec

    with pytest.raises(ValueError, match="expected"):
        coerce_value(InputSpec("p", kind), raw)


def test_semantic_versions_order_numerically_and_prereleases_first():
    versions = ["1.10.0", "1.9.0", "1.0.0-rc.1", "1.0.0", "2.0.0-alpha"]
    assert sorted(versions, key=version_key) == [
        "1.0.0-rc.1", "1.0.0", "1.9.0", "1.10.0", "2.0.0-alpha"]


def test_interface_reads_resources_and_outputs():
    interface = parse_interface(json.loads((EXAMPLES / "wordcount.json").read_text()))
    assert interface.resources["mem"] == 64
    assert interface.outputs[0].name == "result"
    assert interface.output_json == ("words",)
    assert interface.input("INPUT").name == "input"


def test_secret_settings_in_the_command_are_warned_about_and_never_expanded(tmp_path):
    from types import SimpleNamespace

    from uws_server.services.execution import build_spec
    from uws_server.storage import JobStorage

    manifest = _echo()
    manifest["job"]["interface"]["command"] = "prog ${TOKEN} ${HOST}"
    manifest["job"]["interface"]["settings"] = [{"name": "TOKEN", "secret": True},
                                                {"name": "HOST"}]
    _, warnings = check_manifest(manifest)
    assert any("TOKEN" in w.description and "secret" in w.description for w in warnings)
    storage = JobStorage(tmp_path)
    job_id = "a" * 32
    storage.create(job_id)
    job = SimpleNamespace(id=job_id, parameters=[], job_type_name="echo", execution_duration=0)
    job_type = SimpleNamespace(configuration={"settings": {"TOKEN": "s3cr3t", "HOST": "db"}},
                               docker_image="")
    spec = build_spec(storage, job, job_type, parse_interface(manifest), service="uws")
    assert spec.argv == ("prog", "db")
    assert spec.env["TOKEN"] == "s3cr3t"
    assert spec.secret_env == frozenset({"TOKEN"})
