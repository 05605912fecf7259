"""Seed manifests: validation, argv building, typed values, versions."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from uws_server.jobtypes.seed import build_argv, check_manifest, coerce_value, parse_interface
from uws_server.jobtypes.service import version_key

EXAMPLES = Path(__file__).resolve().parents[2] / "uws_server" / "jobtypes" / "manifests"


def _echo() -> dict:
    return json.loads((EXAMPLES / "echo.json").read_text())



@pytest.mark.parametrize("name", ["echo.json", "sleep.json", "wordcount.json"])
def test_example_manifests_are_valid(name):
    errors, warnings = check_manifest(json.loads((EXAMPLES / name).read_text()))
    assert errors == [] and warnings == []


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
    from uws_server.jobtypes.seed import InputSpec

    assert coerce_value(InputSpec("p", kind), raw) == expected


@pytest.mark.parametrize("kind,raw", [
    ("integer", "4.5"), ("number", "abc"), ("number", "nan"), ("boolean", "maybe"),
    ("array", "{}"), ("object", "[1]"),
])
def test_ill_typed_values_are_refused_saying_what_was_expected(kind, raw):
    from uws_server.jobtypes.seed import InputSpec

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

    from uws_server.dispatch.spec import build_spec
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
    job = SimpleNamespace(id=job_id, parameters=[], job_type_name="echo", execution_duration=0,
                          req_cpu=None, req_memory_mib=None, filesystems=None)
    job_type = SimpleNamespace(configuration={"settings": {"TOKEN": "s3cr3t", "HOST": "db"}},
                               docker_image="")
    spec = build_spec(storage, job, job_type, parse_interface(manifest), service="uws")
    assert spec.argv == ("prog", "db")
    assert spec.env["TOKEN"] == "s3cr3t"
    assert spec.secret_env == frozenset({"TOKEN"})
