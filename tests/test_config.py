"""Settings: UWS_* variables, the TOML file, and how bad values are named."""

from __future__ import annotations

import re

import pytest

from tests.support import ROOT
from uws_server.config import (
    HARNESS_VARIABLES,
    JOB_VARIABLES,
    ConfigError,
    Settings,
    executor_variables,
    load_settings,
)
from uws_server.executors.htcondor import settings as htcondor_settings
from uws_server.executors.htcondor.settings import HTCondorSettings
from uws_server.executors.slurm import settings as slurm_settings
from uws_server.executors.slurm.settings import SlurmSettings


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


def test_an_unknown_variable_is_an_error_naming_it_and_the_closest_known_one():
    with pytest.raises(ConfigError) as caught:
        load_settings({"UWS_PROT": "8093"})
    assert str(caught.value) == "unknown variable UWS_PROT (did you mean UWS_PORT?)"
    with pytest.raises(ConfigError, match=r"UWS_LOCAL_CONCURENCY \(did you mean "
                                          r"UWS_LOCAL_CONCURRENCY\?\)"):
        load_settings({"UWS_LOCAL_CONCURENCY": "4"})
    with pytest.raises(ConfigError) as caught:
        load_settings({"UWS_FROBNICATE": "1"})
    assert str(caught.value) == "unknown variable UWS_FROBNICATE"  # nothing close: no guess


def test_an_unknown_key_in_the_settings_file_is_an_error_naming_the_file_and_key(tmp_path):
    config = tmp_path / "uws.toml"
    config.write_text('prot = 8093\nlocal_concurency = 4\n')
    with pytest.raises(ConfigError) as caught:
        load_settings({"UWS_CONFIG": str(config)})
    assert str(caught.value) == (
        f"{config}: unknown key 'local_concurency' (did you mean 'local_concurrency'?); "
        "unknown key 'prot' (did you mean 'port'?)")
    assert "\n" not in str(caught.value)


def test_executor_variables_are_accepted_and_a_misspelt_one_is_refused(tmp_path):
    settings = load_settings({"UWS_SLURM_PARTITION": "debug", "UWS_HTCONDOR_SPOOL": "yes"})
    assert dict(settings.extra) == {"UWS_SLURM_PARTITION": "debug", "UWS_HTCONDOR_SPOOL": "yes"}
    with pytest.raises(ConfigError) as caught:
        load_settings({"UWS_SLURM_PARTITON": "debug"})
    assert str(caught.value) == ("unknown variable UWS_SLURM_PARTITON (did you mean "
                                 "UWS_SLURM_PARTITION?)")
    with pytest.raises(ConfigError, match=r"did you mean UWS_HTCONDOR_SCHEDD\?"):
        load_settings({"UWS_HTCONDOR_SHEDD": "schedd@cm"})
    config = tmp_path / "uws.toml"
    config.write_text('executor = "slurm"\nslurm_partition = "short"\n')
    assert load_settings({"UWS_CONFIG": str(config)}).extra == {"UWS_SLURM_PARTITION": "short"}


def test_every_executor_variable_is_declared_and_every_declared_one_is_read():
    """``ENVIRONMENT`` is what ``from_env`` reads, exactly: a new variable must be declared."""
    class Recording(dict[str, str]):
        def __init__(self) -> None:
            super().__init__()
            self.asked: set[str] = set()

        def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
            self.asked.add(key)
            return default

    for declared, settings_class in ((slurm_settings.ENVIRONMENT, SlurmSettings),
                                     (htcondor_settings.ENVIRONMENT, HTCondorSettings)):
        environ = Recording()
        settings_class.from_env(environ)
        assert environ.asked == set(declared)
    assert executor_variables() == set(slurm_settings.ENVIRONMENT) | set(
        htcondor_settings.ENVIRONMENT)


def test_the_chosen_executors_bad_value_stops_the_start():
    with pytest.raises(ConfigError, match="slurm executor: UWS_SLURM_ACCOUNTING must be auto"):
        load_settings({"UWS_EXECUTOR": "slurm", "UWS_SLURM_ACCOUNTING": "maybe"})
    load_settings({"UWS_SLURM_ACCOUNTING": "maybe"})  # not the executor in use: not read


def test_harness_and_job_variables_are_ignored_by_the_service():
    settings = load_settings({name: "1" for name in HARNESS_VARIABLES | JOB_VARIABLES}
                             | {"UWS_TEST_ANYTHING": "x", "UWS_BENCH_ANYTHING": "y"})
    assert settings == Settings()


def test_log_level_and_format_are_checked():
    assert load_settings({"UWS_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError, match="UWS_LOG_FORMAT"):
        load_settings({"UWS_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="UWS_LOG_LEVEL"):
        load_settings({"UWS_LOG_LEVEL": "chatty"})


def test_the_lease_duration_is_a_setting_and_must_be_positive():
    assert Settings().lease_seconds == 30.0
    assert load_settings({"UWS_LEASE_SECONDS": "2.5"}).lease_seconds == 2.5
    for bad in ("0", "-1", "nan"):
        with pytest.raises(ConfigError, match="UWS_LEASE_SECONDS: must be a positive"):
            load_settings({"UWS_LEASE_SECONDS": bad})


#: Where the project sets UWS_* variables: each must be a setting, an executor variable or a
#: harness variable, or servers started from there would refuse to start.
_SETTERS = ("tests", "scripts", ".ci", "condor", "docs", "bench", "Dockerfile", "README.md",
            "docker-compose.yml", "deploy")
#: UWS_* words there that are no variables: Python constants, and a service-environment
#: value the Slurm tests check never reaches a job.
_NOT_VARIABLES = {"UWS_NS", "UWS_XSD", "UWS_DB_PASSWORD"}
#: The tests that misspell names on purpose, and the misspelling docs/operations.md shows.
_TYPO_TESTS = {"test_config.py", "test_cli.py", "test_logging.py"}
_DOCUMENTED_TYPOS = {"UWS_SLURM_PARTITON"}


def test_every_uws_variable_the_project_sets_is_accepted():
    names: set[str] = set()
    for top in _SETTERS:
        path = ROOT / top
        for file in [path] if path.is_file() else path.rglob("*"):
            if file.is_file() and file.suffix not in {".pyc", ".sqlite3"} \
                    and file.name not in _TYPO_TESTS:
                names |= set(re.findall(r"\bUWS_[A-Z0-9_]*[A-Z0-9]\b",
                                        file.read_text(errors="replace")))
    names -= _NOT_VARIABLES | _DOCUMENTED_TYPOS
    assert {"UWS_REQUIRE_POSTGRES", "UWS_CONDOR_POOL", "UWS_DATA_DIR"} <= names
    load_settings({name: _valid_value(name) for name in names})


def _valid_value(name: str) -> str:
    """A value each name accepts (the check is of names, not values): a setting's default."""
    field = name.removeprefix("UWS_").lower()
    if name == "UWS_CONFIG" or field not in Settings.__dataclass_fields__:
        return ""
    return str(getattr(Settings(), field))
