"""Submit descriptions built from job specs, checked on real ``htcondor2.Submit`` objects."""

from __future__ import annotations

import logging

import htcondor2
import pytest

from tests.htcondor.fake_schedd import FakeSchedd
from tests.htcondor.newstyle import match_time, parse_new_style
from uws_server.executors.base import ExecutorError, Resources
from uws_server.executors.htcondor import HTCondorExecutor, HTCondorSettings
from uws_server.executors.htcondor.submit import (
    build_bulk_description,
    build_description,
    check_expansion,
    to_submit,
)

SECRET = "s3cr3t-VALUE-never-logged"


def expand(description, key):
    return to_submit(description.commands).expand(key)


def test_single_job_description_carries_every_spec_field(spec_factory):
    spec = spec_factory(image=None)
    description = build_description(spec, "tok-1", HTCondorSettings(max_retries=3))
    check_expansion(description)
    submit = to_submit(description.commands)
    text = str(submit)
    assert submit.expand("universe") == "vanilla"
    assert "container_image" not in text
    assert submit.expand("executable") == "/bin/echo"
    assert parse_new_style(submit.expand("arguments")) == ["hello world"]
    assert submit.expand("initialdir") == str(spec.workdir)
    assert submit.expand("output") == str(spec.stdout_path)
    assert submit.expand("error") == str(spec.stderr_path)
    assert submit.expand("log") == str(spec.workdir / "condor.log")
    assert submit.expand("request_cpus") == "1"
    assert submit.expand("request_memory") == "256"
    assert submit.expand("request_disk") == str(100 * 1024)  # KiB
    assert submit.expand("My.UwsJobId") == '"a1b2c3"'
    assert submit.expand("My.UwsSubmitToken") == '"tok-1"'
    assert submit.expand("My.UwsService") == '"uws-test"'
    assert submit.expand("My.UwsMaxDuration") == "600"
    assert submit.expand("batch_name") == "uws-echo"
    assert submit.expand("submit_event_user_notes") == "uws job a1b2c3"
    assert submit.expand("max_retries") == "3"
    assert submit.expand("My.PeriodicRemoveReason") == '"uws-server: execution duration exceeded"'
    assert "UwsMaxDuration" in submit.expand("periodic_remove")
    assert "JobCurrentStartDate" in submit.expand("periodic_remove")


def test_container_image_selects_the_container_universe(spec_factory):
    spec = spec_factory(image="docker://python:3.12-slim")
    submit = to_submit(build_description(spec, "t", HTCondorSettings()).commands)
    assert submit.expand("universe") == "container"
    assert submit.expand("container_image") == "docker://python:3.12-slim"


def test_gpus_and_fractional_cpus_and_memory_round_up(spec_factory):
    spec = spec_factory(resources=Resources(cpus=1.5, mem_mib=100.2, disk_mib=0.5, gpus=2))
    submit = to_submit(build_description(spec, "t", HTCondorSettings()).commands)
    assert submit.expand("request_cpus") == "2"
    assert submit.expand("request_memory") == "101"
    assert submit.expand("request_disk") == "512"
    assert submit.expand("request_gpus") == "2"


def test_unrequested_resources_are_left_to_htcondor_defaults(spec_factory):
    spec = spec_factory(resources=Resources())
    commands = build_description(spec, "t", HTCondorSettings()).commands
    assert not {"request_cpus", "request_memory", "request_disk", "request_gpus"} & set(commands)


def test_transfer_mode_sends_inputs_and_the_output_directory_with_relative_paths(spec_factory):
    workdir = spec_factory().workdir
    spec = spec_factory(argv=("/bin/cat", str(workdir / "inputs" / "data.txt")))
    submit = to_submit(build_description(spec, "t", HTCondorSettings()).commands)
    assert submit.expand("should_transfer_files") == "YES"
    assert submit.expand("when_to_transfer_output") == "ON_EXIT_OR_EVICT"
    assert submit.expand("transfer_input_files") == "inputs/data.txt,outputs"
    assert submit.expand("transfer_output_files") == "outputs"
    assert submit.expand("preserve_relative_paths") == "True"
    # the job runs in a scratch directory: workdir paths become relative to it
    assert parse_new_style(submit.expand("arguments")) == ["inputs/data.txt"]
    env = dict(p.split("=", 1) for p in parse_new_style(submit.expand("environment")))
    assert env["OUTPUT_DIR"] == "outputs"


def test_shared_filesystem_mode_transfers_nothing_and_keeps_absolute_paths(spec_factory):
    spec = spec_factory()
    settings = HTCondorSettings(file_mode="shared")
    submit = to_submit(build_description(spec, "t", settings).commands)
    assert submit.expand("should_transfer_files") == "NO"
    assert "transfer_input_files" not in set(submit.keys())
    env = dict(p.split("=", 1) for p in parse_new_style(submit.expand("environment")))
    assert env["OUTPUT_DIR"] == str(spec.output_dir)


def test_client_values_with_macros_arrive_literally(spec_factory):
    argv = ("/bin/echo", "$(Foo)", "$$(x)", 'it\'s "quoted"', "a b")
    spec = spec_factory(argv=argv, env={"V": "$(Bar) $$(y)"})
    description = build_description(spec, "t", HTCondorSettings())
    check_expansion(description)
    submit = to_submit(description.commands)
    assert parse_new_style(match_time(submit.expand("arguments"))) == list(argv[1:])
    assert parse_new_style(match_time(submit.expand("environment"))) == ["V=$(Bar) $$(y)"]


def test_a_value_htcondor_cannot_carry_is_refused_before_submission(spec_factory):
    spec = spec_factory(argv=("/bin/echo", "$(DOLLAR)"))
    description = build_description(spec, "t", HTCondorSettings())
    with pytest.raises(ExecutorError) as caught:
        check_expansion(description)
    assert caught.value.transient is False


def test_extra_submit_commands_from_settings_are_appended(spec_factory):
    settings = HTCondorSettings(extra_submit=(("requirements", 'OpSys == "LINUX"'),))
    submit = to_submit(build_description(spec_factory(), "t", settings).commands)
    assert submit.expand("requirements") == 'OpSys == "LINUX"'


def test_bulk_description_expands_per_item_exactly_like_single_descriptions(spec_factory):
    specs = [
        spec_factory("job1", argv=("/bin/echo", "one $(x)")),
        spec_factory("job2", argv=("/bin/echo", "two", "it's")),
        spec_factory("job3", execution_duration=0),
    ]
    tokens = ["t1", "t2", "t3"]
    bulk = build_bulk_description(specs, tokens, HTCondorSettings())
    check_expansion(bulk)
    assert len(bulk.items) == 3
    template = to_submit(bulk.commands)
    assert template.expand("executable") == "/bin/echo"
    for spec, token, item in zip(specs, tokens, bulk.items, strict=True):
        single = to_submit(build_description(spec, token, HTCondorSettings()).commands)
        per_item = htcondor2.Submit({**bulk.commands, **item})
        for key in (
            "arguments",
            "environment",
            "initialdir",
            "log",
            "My.UwsJobId",
            "My.UwsSubmitToken",
            "My.UwsMaxDuration",
            "transfer_input_files",
        ):
            assert per_item.expand(key) == single.expand(key), key


def test_bulk_of_different_job_types_is_refused(spec_factory):
    specs = [spec_factory("j1"), spec_factory("j2", image="docker://alpine")]
    with pytest.raises(ExecutorError):
        build_bulk_description(specs, ["a", "b"], HTCondorSettings())


def test_secret_environment_values_are_redacted_in_str_and_repr(spec_factory):
    spec = spec_factory(
        env={"API_KEY": SECRET, "PLAIN": "visible"}, secret_env=frozenset({"API_KEY"})
    )
    description = build_description(spec, "t", HTCondorSettings())
    assert SECRET not in str(description)
    assert SECRET not in repr(description)
    assert "API_KEY=***" in str(description)
    assert "PLAIN=visible" in str(description)
    assert SECRET in description.commands["environment"]  # the job still gets it
    bulk = build_bulk_description(
        [spec, spec_factory("j2", env={"API_KEY": SECRET}, secret_env=frozenset({"API_KEY"}))],
        ["a", "b"],
        HTCondorSettings(),
    )
    assert SECRET not in str(bulk) and SECRET not in repr(bulk)


def test_secret_values_never_reach_log_records(spec_factory, executor, caplog):
    spec = spec_factory(env={"API_KEY": SECRET}, secret_env=frozenset({"API_KEY"}))
    bulk = [
        spec_factory(f"b{i}", env={"API_KEY": SECRET}, secret_env=frozenset({"API_KEY"}))
        for i in range(2)
    ]
    with caplog.at_level(logging.DEBUG):
        executor.submit(spec, "tok")
        executor.submit_many(bulk, ["t1", "t2"])
    assert caplog.records, "submissions are logged"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.args)


def test_bulk_items_survive_the_itemdata_text_htcondor2_submits(spec_factory):
    """``Schedd.submit(itemdata=...)`` writes ``QUEUE k1,k2 FROM (...)`` rows joined by
    the unit separator and parses them back; the real parser must return our items."""
    specs = [
        spec_factory(f"j{i}", argv=("/bin/echo", f"a b {i}", "it's $(x) $$(y)", ""))
        for i in range(3)
    ]
    bulk = build_bulk_description(specs, ["t0", "t1", "t2"], HTCondorSettings())
    keys = list(bulk.items[0])
    text = "".join(f"{k} = {v}\n" for k, v in bulk.commands.items())
    text += f"\nQUEUE {','.join(keys)} FROM (\n"
    text += "".join("\x1f".join(item[k] for k in keys) + "\n" for item in bulk.items)
    text += ")\n"
    parsed = htcondor2.Submit(text)
    assert list(parsed.itemdata()) == bulk.items


class QuotingSchedd(FakeSchedd):
    """A schedd whose refusal quotes the environment back, as real error messages may."""

    def submit(self, commands, count, itemdata):
        raise ExecutorError(f"refused: environment = {commands['environment']}", transient=False)


def test_schedd_errors_quoting_the_description_are_scrubbed_of_secrets(spec_factory, caplog):
    executor = HTCondorExecutor(service="uws-test", schedd=QuotingSchedd())
    spec = spec_factory(env={"API_KEY": SECRET + " $(x)"}, secret_env=frozenset({"API_KEY"}))
    with caplog.at_level(logging.DEBUG), pytest.raises(ExecutorError) as caught:
        executor.submit(spec, "tok")
    assert "refused" in str(caught.value)
    assert SECRET not in str(caught.value)
    with pytest.raises(ExecutorError) as caught:
        executor.submit_many([spec, spec_factory("j2")], ["a", "b"])
    assert SECRET not in str(caught.value)
    assert all(SECRET not in r.getMessage() for r in caplog.records)
