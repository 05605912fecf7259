"""Submit descriptions built from :class:`~uws_server.executors.base.JobSpec`.

A description is kept as plain ``dict[str, str]`` commands (picklable, so the
child process that talks to the schedd can turn it into ``htcondor2.Submit``)
wrapped in :class:`SubmitDescription`, whose ``str``/``repr`` are *redacted*:
secret environment values never reach a log line. The bindings are imported
lazily, in :func:`to_submit` only.

Every escaped value records what HTCondor's submit-time expansion must turn it
into; :func:`check_expansion` asks the real ``htcondor2.Submit.expand`` and
refuses (non-transiently) a description HTCondor would not carry literally.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uws_server.executors.base import ExecutorError, JobSpec
from uws_server.executors.htcondor import reasons
from uws_server.executors.htcondor.quoting import (
    QuotingError,
    escape_macros,
    plain_value,
    quote_arguments,
    quote_environment,
)
from uws_server.executors.htcondor.settings import HTCondorSettings

if TYPE_CHECKING:
    import htcondor2

#: The event log of a job, inside its workdir (one log per job).
EVENT_LOG_NAME = "condor.log"

#: Commands that differ between the jobs of one bulk (itemdata) cluster.
PER_JOB = (
    "initialdir",
    "arguments",
    "environment",
    "output",
    "error",
    "log",
    "transfer_input_files",
    "My.UwsJobId",
    "My.UwsSubmitToken",
    "My.UwsMaxDuration",
    "submit_event_user_notes",
)


def periodic_remove_expression() -> str:
    """The duration policy: running longer than ``UwsMaxDuration`` (0 = unlimited).

    ``JobCurrentStartDate`` is the start of the current execution, so the limit
    is per run, like a wall-clock limit; idle, held or suspended jobs never match.
    """
    attr = reasons.DURATION_ATTR
    return f"JobStatus == 2 && {attr} > 0 && (time() - JobCurrentStartDate) > {attr}"


def classad_string(value: str) -> str:
    """A ClassAd string literal (backslash and double quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class SubmitDescription:
    """Submit commands plus, for a bulk cluster, one item (macro values) per job.

    ``expected`` maps a command (or ``item:<macro>``) to the value HTCondor's
    submit-time expansion must produce. ``redacted`` holds the same commands and
    items with secret values masked: it is what ``str()``/``repr()`` show.
    """

    commands: dict[str, str]
    items: list[dict[str, str]] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)
    item_expected: list[dict[str, str]] = field(default_factory=list)
    redacted_commands: dict[str, str] = field(default_factory=dict)
    redacted_items: list[dict[str, str]] = field(default_factory=list)

    def text(self, *, redact: bool = True) -> str:
        """The description as a submit file (redacted unless told otherwise)."""
        commands = self.redacted_commands if redact else self.commands
        items = self.redacted_items if redact else self.items
        lines = [f"{k} = {v}" for k, v in commands.items()]
        if items:
            # Items go to Schedd.submit(itemdata=...), one job each; shown as comments.
            for number, item in enumerate(items):
                lines.append(f"# item {number}:")
                lines.extend(f"#   {k} = {v}" for k, v in item.items())
            lines.append(f"queue {','.join(items[0])} from <itemdata>")
        else:
            lines.append("queue")
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.text(redact=True)

    def __repr__(self) -> str:
        return f"SubmitDescription(<redacted>\n{self.text(redact=True)})"


def _relative(path: Path, workdir: Path) -> str | None:
    try:
        rel = Path(path).relative_to(workdir)
    except ValueError:
        return None
    return rel.as_posix() or "."


#: An option with its value in one argument: ``--job-dir=/srv/uws/jobs/4f2a9c``.
_OPTION = re.compile(r"(--?[A-Za-z0-9][A-Za-z0-9_.-]*=)(.*)", re.DOTALL)


def _rewrite(value: str, workdir: Path) -> str:
    """In transfer mode, a path under the workdir becomes relative to the scratch dir.

    So does the value of an ``--option=PATH`` argument (the OCPS runner's
    ``--job-dir=${JOB_DIR}``): the execution point has no such path, the job
    runs in its scratch directory, where the inputs and ``outputs/`` are.
    """
    root = str(workdir)
    if value == root:
        return "."
    if value.startswith(root + "/"):
        return value[len(root) + 1 :]
    option = _OPTION.fullmatch(value)
    if option and (option[2] == root or option[2].startswith(root + "/")):
        return option[1] + _rewrite(option[2], workdir)
    return value


def _job_commands(
    spec: JobSpec, token: str, settings: HTCondorSettings, *, redact: bool
) -> tuple[dict[str, str], dict[str, str]]:
    """The per-job commands of one spec and their expected expansions."""
    transfer = settings.file_mode == "transfer"
    args = list(spec.argv[1:])
    env = dict(spec.redacted_env() if redact else spec.env)
    if transfer:
        args = [_rewrite(a, spec.workdir) for a in args]
        env = {k: _rewrite(v, spec.workdir) for k, v in env.items()}
    cmds: dict[str, str] = {}
    expected: dict[str, str] = {}

    def put(key: str, raw: str) -> None:
        cmds[key], expected[key] = escape_macros(raw)

    put("initialdir", str(spec.workdir))
    put("arguments", quote_arguments(args))
    put("environment", quote_environment(env))
    put("output", str(spec.stdout_path))
    put("error", str(spec.stderr_path))
    put("log", str(spec.workdir / EVENT_LOG_NAME))
    if transfer:
        inputs = []
        for path in (*spec.input_files, spec.output_dir):
            rel = _relative(path, spec.workdir)
            if rel is None:
                raise QuotingError(f"input file {path} is not inside the job directory")
            if "," in rel:
                raise QuotingError(f"input file name {rel!r} contains a comma")
            inputs.append(rel)
        put("transfer_input_files", ",".join(inputs))
    put("My.UwsJobId", classad_string(spec.job_id))
    put("My.UwsSubmitToken", classad_string(token))
    put("My.UwsMaxDuration", str(max(0, int(spec.execution_duration))))
    put("submit_event_user_notes", f"uws job {spec.job_id}")
    for key in list(cmds):
        if "\n" in cmds[key]:
            raise QuotingError(f"{key} contains a newline")
    return cmds, expected


def _common_commands(spec: JobSpec, settings: HTCondorSettings) -> dict[str, str]:
    """Commands shared by every job of a cluster (same job type)."""
    transfer = settings.file_mode == "transfer"
    program = spec.argv[0]
    cmds: dict[str, str] = {}
    if spec.image:
        cmds["universe"] = "container"
        cmds["container_image"] = plain_value(spec.image, "the container image")
    else:
        cmds["universe"] = "vanilla"
    cmds["executable"] = plain_value(program, "the executable")
    in_workdir = _relative(Path(program), spec.workdir) is not None
    cmds["transfer_executable"] = "True" if (transfer and in_workdir) else "False"
    res = spec.resources
    if res.cpus is not None:
        cmds["request_cpus"] = str(max(1, math.ceil(res.cpus)))
    if res.mem_mib is not None:
        cmds["request_memory"] = str(max(1, math.ceil(res.mem_mib)))  # MiB
    if res.disk_mib is not None:
        cmds["request_disk"] = str(max(1, math.ceil(res.disk_mib * 1024)))  # KiB
    if res.gpus:
        cmds["request_gpus"] = str(int(res.gpus))
    if transfer:
        cmds["should_transfer_files"] = "YES"
        cmds["when_to_transfer_output"] = "ON_EXIT_OR_EVICT"
        cmds["preserve_relative_paths"] = "True"
        out = _relative(spec.output_dir, spec.workdir)
        if out is None or out == ".":
            raise QuotingError("the output directory must be a subdirectory of the workdir")
        cmds["transfer_output_files"] = plain_value(out, "the output directory")
    else:
        cmds["should_transfer_files"] = "NO"
    cmds["My.UwsService"] = escape_macros(classad_string(spec.service))[0]
    cmds["batch_name"] = plain_value(f"uws-{spec.job_type}", "the batch name")
    cmds["periodic_remove"] = periodic_remove_expression()
    cmds["My.PeriodicRemoveReason"] = classad_string(reasons.DURATION_REASON)
    if settings.max_retries is not None:
        cmds["max_retries"] = str(int(settings.max_retries))
    for key, value in settings.extra_submit:
        cmds[key] = value
    return cmds


def build_description(spec: JobSpec, token: str, settings: HTCondorSettings) -> SubmitDescription:
    """The description of one job, every value spelled out."""
    if not spec.argv:
        raise ExecutorError("the job has an empty argv", transient=False)
    try:
        common = _common_commands(spec, settings)
        job, expected = _job_commands(spec, token, settings, redact=False)
        shown, _ = _job_commands(spec, token, settings, redact=True)
    except QuotingError as exc:
        raise ExecutorError(f"cannot submit job {spec.job_id}: {exc}", transient=False) from exc
    return SubmitDescription(
        commands={**common, **job},
        expected=expected,
        redacted_commands={**common, **shown},
    )


def _macro(key: str) -> str:
    return "uws_" + key.replace("My.", "").replace("_", "").lower()


def build_bulk_description(
    specs: Sequence[JobSpec], tokens: Sequence[str], settings: HTCondorSettings
) -> SubmitDescription:
    """One cluster for jobs of one type: shared commands plus one item per job.

    Per-job commands refer to item macros ``$(uws_...)``; the items carry the
    escaped values, which the submit-time expansion of the reference expands.
    """
    if not specs or len(specs) != len(tokens):
        raise ExecutorError("submit_many needs as many tokens as specs", transient=False)
    first = specs[0]
    for spec in specs[1:]:
        same = (spec.argv[:1], spec.image, spec.resources, spec.job_type, spec.service)
        if same != (first.argv[:1], first.image, first.resources, first.job_type, first.service):
            raise ExecutorError(
                "a bulk submission needs jobs of one type (program, image, resources)",
                transient=False,
            )
    try:
        common = _common_commands(first, settings)
        items, item_expected, shown_items = [], [], []
        for spec, token in zip(specs, tokens, strict=True):
            job, expected = _job_commands(spec, token, settings, redact=False)
            shown, _ = _job_commands(spec, token, settings, redact=True)
            items.append({_macro(k): v for k, v in job.items()})
            item_expected.append({k: expected[k] for k in job})
            shown_items.append({_macro(k): v for k, v in shown.items()})
    except QuotingError as exc:
        raise ExecutorError(f"cannot submit jobs: {exc}", transient=False) from exc
    refs = {k: f"$({_macro(k)})" for k in item_expected[0]}
    return SubmitDescription(
        commands={**common, **refs},
        items=items,
        item_expected=item_expected,
        redacted_commands={**common, **refs},
        redacted_items=shown_items,
    )


def to_submit(commands: Mapping[str, str]) -> htcondor2.Submit:
    """A real ``htcondor2.Submit`` (imports the bindings: call it in a child process)."""
    import htcondor2

    return htcondor2.Submit(dict(commands))


def check_expansion(description: SubmitDescription) -> None:
    """Check with the real bindings that every escaped value expands as intended.

    Raises a non-transient :class:`ExecutorError` (naming the command, never its
    value, which may be secret) when HTCondor would alter a value, e.g. a client
    value containing the literal text ``$(DOLLAR)``.
    """
    checks: list[tuple[dict[str, str], dict[str, str]]] = []
    if description.items:
        for item, expected in zip(description.items, description.item_expected, strict=True):
            checks.append(({**description.commands, **item}, expected))
    else:
        checks.append((description.commands, description.expected))
    for commands, expected in checks:
        sub = to_submit(commands)
        for key, want in expected.items():
            got: Any = sub.expand(key)
            if got != want:
                raise ExecutorError(
                    f"submit command {key} would not reach HTCondor literally "
                    "(it contains a macro HTCondor cannot escape, like $(DOLLAR))",
                    transient=False,
                )
