"""The operator's kit in ``condor/`` shows what the code really produces.

``condor/example-job.sub`` (also quoted in ``condor/README.md``) must be the
redacted description the code builds for a fixed example job. After changing
the submit code, regenerate it with ``UWS_REGENERATE_CONDOR_EXAMPLE=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

from uws_server.executors.base import JobSpec, Resources
from uws_server.executors.htcondor import HTCondorSettings
from uws_server.executors.htcondor.submit import build_description, check_expansion

KIT = Path(__file__).resolve().parents[2] / "condor"
WORKDIR = Path("/srv/uws/jobs/4f2a9c")


def example_description() -> str:
    spec = JobSpec(
        job_id="4f2a9c",
        job_type="cutout",
        argv=(
            "/opt/tools/cutout",
            "--target",
            "M31 core",
            "--label",
            "it's $(fun)",
            str(WORKDIR / "inputs" / "image.fits"),
        ),
        env={
            "OUTPUT_DIR": str(WORKDIR / "outputs"),
            "JOB_ID": "4f2a9c",
            "ARCHIVE_TOKEN": "not-a-real-secret",
        },
        secret_env=frozenset({"ARCHIVE_TOKEN"}),
        workdir=WORKDIR,
        output_dir=WORKDIR / "outputs",
        input_files=(WORKDIR / "inputs" / "image.fits",),
        resources=Resources(cpus=2, mem_mib=2048, disk_mib=1024),
        execution_duration=3600,
        image="docker://registry.example.org/cutout:1.4",
        service="uws-prod",
    )
    description = build_description(spec, "7d0c1e2b", HTCondorSettings(max_retries=2))
    check_expansion(description)
    return str(description)


def test_the_example_submit_file_is_what_the_code_produces():
    path = KIT / "example-job.sub"
    text = example_description()
    if os.environ.get("UWS_REGENERATE_CONDOR_EXAMPLE"):
        path.write_text(text)
    assert path.read_text() == text
    assert "not-a-real-secret" not in text


def test_the_readme_quotes_the_example_submit_file():
    readme = (KIT / "README.md").read_text()
    assert example_description() in readme


def test_the_compose_pool_has_three_roles_sharing_one_pool_password():
    import yaml

    compose = yaml.safe_load((KIT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"cm", "submit", "execute"}
    for name, service in services.items():
        assert service["image"].startswith(f"htcondor/{name}:")
        assert "./secrets/pool_password:/root/secrets/pool_password:ro" in service["volumes"]
        assert service["environment"]["USE_POOL_PASSWORD"] == "yes"
    assert services["submit"]["environment"]["CONDOR_HOST"] == "cm"
    assert services["execute"]["environment"]["CONDOR_HOST"] == "cm"
    assert "..:/srv/uws-server" in services["submit"]["volumes"]


def test_the_readme_names_every_setting_the_code_reads():
    import re

    readme = (KIT / "README.md").read_text()
    settings_source = (
        Path(__file__).resolve().parents[2] / "uws_server/executors/htcondor/settings.py"
    ).read_text()
    for name in set(re.findall(r"UWS_HTCONDOR_[A-Z_]+", settings_source)):
        assert f"`{name}`" in readme, name
