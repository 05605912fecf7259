"""Fixtures of the hardening suite (issue 15): a server with a hostile job type, a secret.

``hardening_server`` is a server per database (SQLite, PostgreSQL) on a
database of its own, with the default limits and one extra job type,
``linker``: a job that, like a job running as another user on Slurm or
HTCondor could, replaces its ``stderr.txt``, ``stdout.txt`` and result by
symlinks to a file of the service's host (``secret``), then fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_BASE
from tests.support import LiveServer, server_with_own_database

SECRET = "TOP-SECRET-not-for-clients"

LINKER = """#!/bin/sh
# $1 job dir, $2 output dir, $3 the file to point the links at
echo "an honest line of standard error" >&2
ln -s "$3" "$2/result.txt"
mkdir -p "$2/dir" && ln -s "$(dirname "$3")" "$2/linked-dir"
rm -f "$1/stderr.txt" && ln -s "$3" "$1/stderr.txt"
rm -f "$1/stdout.txt" && ln -s "$3" "$1/stdout.txt"
exit 3
"""


def _linker_manifest(script: Path) -> dict[str, object]:
    return {"seedVersion": "1.0.0", "job": {
        "name": "linker", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
        "title": "Symlink planter", "description": "Replaces its logs by symlinks (tests).",
        "tags": ["test"], "maintainer": {"name": "tests", "email": "tests@example.org"},
        "timeout": 60,
        "interface": {
            "command": f"/bin/sh {script} ${{JOB_DIR}} ${{OUTPUT_DIR}} ${{target}}",
            "inputs": {"json": [{"name": "target", "type": "string", "required": True}]},
            "outputs": {"files": [
                {"name": "result", "pattern": "result.txt", "required": False},
                {"name": "any", "pattern": "**/*", "multiple": True, "required": False},
            ]},
        },
    }}


@pytest.fixture(scope="session")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file outside every job directory that no client may read through the service."""
    path = tmp_path_factory.mktemp("secret") / "shadow"
    path.write_text(SECRET + "\n")
    return path


@pytest.fixture(scope="session")
def hardening_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[LiveServer]:
    """A server with default settings plus the ``linker`` job type, on its own database."""
    kit = tmp_path_factory.mktemp("hardening_kit")
    script = kit / "linker.sh"
    script.write_text(LINKER)
    manifests = kit / "manifests"
    manifests.mkdir()
    (manifests / "linker.json").write_text(json.dumps(_linker_manifest(script)))
    data_dir = tmp_path_factory.mktemp("hardening")
    with server_with_own_database(database_url, data_dir, "hardening", POSTGRES_BASE,
                                  UWS_JOBTYPES_DIR=str(manifests)) as live:
        yield live


#: Settings of ``edge_server`` (request validation at the HTTP edge, issue 15 items 6-13).
EDGE_ORIGIN = "https://portal.example.org"
EDGE_HOST = "uws.example.org"
EDGE_MAX_CHARS = 1000


@pytest.fixture(scope="session")
def edge_server(database_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """A server with an extra allowed origin and host, a small parameter limit and the OCPS
    dialect allowed (so that ``PUT /api/v1/job`` reads its body), on its own database."""
    data_dir = tmp_path_factory.mktemp("edge")
    with server_with_own_database(
            database_url, data_dir, "edge", POSTGRES_BASE, UWS_ALLOWED_ORIGINS=EDGE_ORIGIN,
            UWS_ALLOWED_HOSTS=EDGE_HOST, UWS_MAX_PARAMETER_CHARS=str(EDGE_MAX_CHARS),
            UWS_OCPS_ALLOWED_COMMANDS="true",
            UWS_OCPS_ALLOWED_REPOS="https://example.org/repo") as live:
        yield live
