"""Run one OCPS job: clone a git repository, then ``bash -c`` an operator-allowed command.

``python -m uws_server.programs.ocps_runner --job-dir=D --output-dir=O --job-id=ID --url=URL
--commit-ref=REF --environment=JSON --command=TEXT`` (every value its own argv
entry, as the ``ocps`` job type's command template passes them; an empty
``--commit-ref`` means the repository's default branch, an empty ``--url`` no
repository at all).

1. ``git clone --quiet --no-checkout -- URL D/src`` and ``git -C D/src checkout --quiet REF --``
   (argv lists, no shell, ``GIT_TERMINAL_PROMPT=0``). A failure exits 128 with a
   message on standard error, which the job's ``/error`` shows. Without a URL
   (a command-only job) ``D/src`` is an empty directory and git never runs.
2. ``bash -c TEXT`` replaces this process, with the job directory as working
   directory and the environment this process got (the service's safe base
   environment) plus ``JOB_ID``, ``JOB_OUTPUT_DIR``, ``JOB_SOURCE_DIR``,
   ``SRC_GIT_URL``, ``GIT_COMMIT_REF`` and the caller's list. Its exit status is the job's.

The service has already checked TEXT against the operator's allow-list and
the URL against the allowed prefixes (:mod:`uws_server.services.ocps`); the
caller's variables are checked again here, because they are what reaches bash.
Bash does not re-parse expanded variable values, so a value like
``$(touch /tmp/x)`` stays text.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..services.ocps import COMMIT_REF, ENV_NAME, RESERVED_NAMES

CLONE_FAILED = 128
BAD_ARGUMENTS = 2
#: Job parameters the executor also exports under their own (lower-case) names: not for bash.
_PARAMETER_VARIABLES = ("command", "url", "commit_ref", "environment")


def _fail(code: int, message: str) -> int:
    print(f"ocps: {message}", file=sys.stderr, flush=True)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocps_runner", allow_abbrev=False)
    for name in ("job-dir", "output-dir", "job-id", "command"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--url", default="")
    parser.add_argument("--commit-ref", default="")
    parser.add_argument("--environment", default="")
    return parser


def _environment(text: str) -> list[tuple[str, str]]:
    items = json.loads(text) if text else []
    if not isinstance(items, list):
        raise ValueError("environment: not a JSON list")
    pairs = []
    for item in items:
        name, value = item["name"], item["value"]
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name) or name in RESERVED_NAMES:
            raise ValueError(f"environment: variable name not allowed: {name!r}")
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError(f"environment: value of {name} is not a string")
        pairs.append((name, value))
    return pairs


def _git(argv: list[str], env: dict[str, str], what: str) -> str | None:
    """Run git; ``None`` on success, else a one-line reason."""
    try:
        done = subprocess.run(["git", *argv], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, check=False)
    except OSError as exc:
        return f"{what}: cannot run git: {exc.strerror}"
    if done.returncode != 0:
        detail = " ".join(done.stderr.decode("utf-8", "replace").split())
        return f"{what}: git exited with status {done.returncode}: {detail[:2000]}"
    return None


def _clone(url: str, ref: str, source: Path, git_env: dict[str, str]) -> str | None:
    """Clone ``url`` into ``source`` and check out ``ref``; ``None``, or why not."""
    failure = _git(["clone", "--quiet", "--no-checkout", "--", url, str(source)], git_env,
                   f"cannot clone {url}")
    if failure is None:
        failure = _git(["-C", str(source), "checkout", "--quiet", ref or "HEAD", "--"], git_env,
                       f"cannot check out {ref or 'the default branch'} of {url}")
    return failure


def main(args: list[str]) -> int:
    """Clone, check out, then exec bash; returns only on failure."""
    try:
        options = _parser().parse_args(args)
    except SystemExit:
        return BAD_ARGUMENTS
    url, ref = options.url, options.commit_ref
    if url.startswith("-") or any(c.isspace() for c in url):
        return _fail(BAD_ARGUMENTS, f"refusing repository URL {url!r}")
    if ref and (ref.startswith("-") or not COMMIT_REF.fullmatch(ref)):
        return _fail(BAD_ARGUMENTS, f"refusing commit_ref {ref!r}")
    if ref and not url:
        return _fail(BAD_ARGUMENTS, f"commit_ref {ref!r} given without a repository URL")
    try:
        caller = _environment(options.environment)
    except (ValueError, KeyError, TypeError) as exc:
        return _fail(BAD_ARGUMENTS, str(exc))

    job_dir = Path(options.job_dir).resolve()
    source = job_dir / "src"
    if source.exists():  # left by an interrupted attempt
        shutil.rmtree(source)
    base = {k: v for k, v in os.environ.items() if k not in _PARAMETER_VARIABLES}
    if url:
        failure = _clone(url, ref, source, {**base, "GIT_TERMINAL_PROMPT": "0"})
        if failure is not None:
            return _fail(CLONE_FAILED, failure)
    else:
        source.mkdir()  # a command-only job: $JOB_SOURCE_DIR exists, and is empty

    env = dict(base)
    env.update({
        "JOB_ID": options.job_id,
        "JOB_OUTPUT_DIR": str(Path(options.output_dir).resolve()),
        "JOB_SOURCE_DIR": str(source),
        "SRC_GIT_URL": url,
        "GIT_COMMIT_REF": ref,
    })
    env.update(caller)
    os.chdir(job_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe("bash", ["bash", "-c", options.command], env)
    except OSError as exc:
        return _fail(127, f"cannot start bash: {exc.strerror}")
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
