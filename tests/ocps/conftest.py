"""Fixtures of the OCPS v1 dialect suite: a git repository and servers that allow it.

``ocps_server`` is a server per database (SQLite, PostgreSQL) with a database
of its own, allowing exactly one command and ``file://`` + the test
repository as repository prefix. What the default, empty allow-lists refuse
is tested in process (the ``client`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, server_with_own_database

COMMAND = "cd $JOB_SOURCE_DIR && bash bin/pipetask.sh"
FAIL_COMMAND = "cd $JOB_SOURCE_DIR && bash bin/fail.sh"
SLOW_COMMAND = "cd $JOB_SOURCE_DIR && bash bin/slow.sh"
#: A command that needs no repository: it records what it finds in $JOB_SOURCE_DIR.
NO_CLONE_COMMAND = ('printf "%s" "$IMAGE_TAG" > "$JOB_OUTPUT_DIR/out.txt"; '
                    'ls -A "$JOB_SOURCE_DIR" > "$JOB_OUTPUT_DIR/src.txt"; '
                    'printf "[%s][%s]" "$SRC_GIT_URL" "$GIT_COMMIT_REF" '
                    '> "$JOB_OUTPUT_DIR/git.txt"')

PIPETASK = """#!/bin/bash
set -eu
printf '%s' "$IMAGE_TAG" > "$JOB_OUTPUT_DIR/out.txt"
mkdir -p "$JOB_OUTPUT_DIR/trace"
env | sort > "$JOB_OUTPUT_DIR/trace/env.txt"
if [ -n "${HOSTILE:-}" ]; then printf '%s' "$HOSTILE" > "$JOB_OUTPUT_DIR/hostile.txt"; fi
echo "pipetask ran in $(pwd) for job $JOB_ID"
"""
FAIL = """#!/bin/bash
echo "the pipeline broke" >&2
exit 3
"""
SLOW = """#!/bin/bash
echo $$ > "$JOB_OUTPUT_DIR/pid"
sleep 60
echo done > "$JOB_OUTPUT_DIR/late.txt"
"""


@dataclass
class Repo:
    """A git repository the servers may clone."""

    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=x", "-c", "user.email=y", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture(scope="session")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """``bin/pipetask.sh``, ``bin/fail.sh`` (exit 3) and ``bin/slow.sh`` on branch ``main``,
    and a branch ``other`` where pipetask.sh writes ``other`` instead."""
    path = tmp_path_factory.mktemp("repo") / "uws_scripts"
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "pipetask.sh").write_text(PIPETASK)
    (path / "bin" / "fail.sh").write_text(FAIL)
    (path / "bin" / "slow.sh").write_text(SLOW)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "scripts")
    _git(path, "checkout", "-q", "-b", "other")
    (path / "bin" / "pipetask.sh").write_text(
        PIPETASK.replace('"$IMAGE_TAG"', '"other:$IMAGE_TAG"'))
    _git(path, "commit", "-q", "-a", "-m", "other")
    _git(path, "checkout", "-q", "main")
    return Repo(path)


@pytest.fixture(scope="session")
def ocps_server(database_url: str, repo: Repo, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """A server allowing the test commands and repository, on its own database."""
    data_dir = tmp_path_factory.mktemp("ocps")
    with server_with_own_database(
            database_url, data_dir, "ocps", POSTGRES_BASE,
            UWS_OCPS_ALLOWED_COMMANDS="\n".join([COMMAND, FAIL_COMMAND, SLOW_COMMAND,
                                                 NO_CLONE_COMMAND]),
            UWS_OCPS_ALLOWED_REPOS=repo.url + "\n", UWS_LOCAL_CONCURRENCY="4",
            UWS_MAX_REQUEST_BYTES="200000") as live:
        yield live


@pytest.fixture(scope="session")
def commands_only_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                         ) -> Iterator[LiveServer]:
    """A server that allows one command and no repository at all, on its own database."""
    data_dir = tmp_path_factory.mktemp("ocps_commands_only")
    with server_with_own_database(
            database_url, data_dir, "ocpscmd", POSTGRES_BASE,
            UWS_OCPS_ALLOWED_COMMANDS=NO_CLONE_COMMAND, UWS_OCPS_ALLOWED_REPOS="") as live:
        yield live
