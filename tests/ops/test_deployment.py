"""docker-compose.yml and the Helm chart: parsed, rendered, and checked against the code.

Neither docker compose nor helm is needed: the compose file is YAML with ``${VAR}``
interpolation (done here as compose does for ``:-`` and ``:?``), and the chart's templates
stay within what :mod:`tests.ops.gotemplate` renders. Every ``UWS_*`` name they set must be a
setting the service knows, with a value it accepts (``load_settings`` is the judge).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.gotemplate import Unsupported, render
from uws_server import __version__
from uws_server.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "uws-server"
GUNICORN_NAMES = set(re.findall(r'os\.environ\.get\("(GUNICORN_\w+)"',
                                (ROOT / "uws_server" / "gunicorn_conf.py").read_text()))


def _interpolate(text: str) -> str:
    """Compose's ``${NAME:-default}`` (the default) and ``${NAME:?message}`` (a value)."""
    def one(match: re.Match[str]) -> str:
        _name, operator, rest = match.group(1), match.group(2), match.group(3)
        return rest if operator == ":-" else ("set-by-operator" if operator == ":?" else "")
    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, text)


def _check_settings(env: dict[str, Any], where: str) -> None:
    uws = {name: str(value) for name, value in env.items() if name.startswith("UWS_")}
    others = set(env) - set(uws) - GUNICORN_NAMES
    assert not others, f"{where}: variables the service does not read: {sorted(others)}"
    load_settings(environ=uws)  # raises ConfigError naming an unknown or bad setting


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(_interpolate((ROOT / "docker-compose.yml").read_text()))


def test_compose_runs_postgres_the_gunicorn_web_tier_and_one_dispatcher(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "web", "worker"}
    assert services["web"]["command"][:3] == ["gunicorn", "-c", "python:uws_server.gunicorn_conf"]
    assert services["worker"]["command"] == ["uws-server", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 1
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"
    url = services["web"]["environment"]["UWS_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://uws:") and "@postgres:5432/uws" in url
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "uws"


def test_compose_shares_one_job_volume_at_the_data_directory(compose):
    for name in ("web", "worker"):
        service = compose["services"][name]
        assert "jobdata:/data" in service["volumes"]
        assert service["environment"]["UWS_DATA_DIR"] == "/data"
    assert {"jobdata", "pgdata"} <= set(compose["volumes"])


def test_compose_health_checks_use_health_and_ready(compose):
    web = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    worker = " ".join(compose["services"]["worker"]["healthcheck"]["test"])
    assert "/health" in web and "http://web:8080/ready" in worker
    assert "pg_isready" in " ".join(compose["services"]["postgres"]["healthcheck"]["test"])


def test_compose_sets_only_real_settings_with_accepted_values(compose):
    for name in ("web", "worker"):
        _check_settings(compose["services"][name]["environment"], f"compose {name}")


def test_a_misspelt_setting_would_fail_the_compose_check():
    typo = "UWS_LOG_" + "FROMAT"  # spelt apart: tests/test_config.py scans for UWS_ names
    with pytest.raises(ValueError, match=typo):
        _check_settings({typo: "json"}, "example")


@pytest.fixture(scope="module")
def chart() -> dict[str, dict[str, Any]]:
    """Every rendered manifest, by kind and name."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    context = {"Values": values, "Release": {"Name": "uws"},
               "Chart": {"Name": meta["name"], "Version": meta["version"],
                         "AppVersion": meta["appVersion"]}}
    docs = {}
    for path in sorted((CHART / "templates").glob("*.yaml")):
        doc = yaml.safe_load(render(path.read_text(), context))
        docs[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return docs


def _container(chart, name: str) -> dict[str, Any]:
    (container,) = chart[f"Deployment/uws-{name}"]["spec"]["template"]["spec"]["containers"]
    return container


def test_the_chart_renders_every_kind_the_deployment_needs(chart):
    assert set(chart) == {"ConfigMap/uws-config", "Secret/uws-secret",
                          "PersistentVolumeClaim/uws-data", "Service/uws",
                          "Deployment/uws-web", "Deployment/uws-worker"}


def test_the_web_pods_are_probed_on_health_and_ready(chart):
    web = _container(chart, "web")
    assert web["livenessProbe"]["httpGet"]["path"] == "/health"
    assert web["readinessProbe"]["httpGet"]["path"] == "/ready"
    for probe in ("livenessProbe", "readinessProbe"):
        assert {"name": "Host", "value": "localhost:8080"} in web[probe]["httpGet"][
            "httpHeaders"]  # the service answers to localhost, not to the pod IP
    assert web["command"][:1] == ["gunicorn"]


def test_the_worker_is_one_replica_replaced_by_recreate(chart):
    worker = chart["Deployment/uws-worker"]["spec"]
    assert worker["replicas"] == 1 and worker["strategy"] == {"type": "Recreate"}
    assert _container(chart, "worker")["command"] == ["uws-server", "worker"]


def test_the_chart_wires_config_secret_volume_and_service_by_name(chart):
    for name in ("web", "worker"):
        pod = chart[f"Deployment/uws-{name}"]["spec"]["template"]["spec"]
        refs = pod["containers"][0]["envFrom"]
        assert refs == [{"configMapRef": {"name": "uws-config"}},
                        {"secretRef": {"name": "uws-secret"}}]
        assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "uws-data"
        assert pod["containers"][0]["volumeMounts"][0]["mountPath"] == "/data"
        assert pod["securityContext"]["runAsNonRoot"] is True
    labels = chart["Deployment/uws-web"]["spec"]["template"]["metadata"]["labels"]
    assert chart["Service/uws"]["spec"]["selector"].items() <= labels.items()
    assert chart["PersistentVolumeClaim/uws-data"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_chart_sets_only_real_settings_with_accepted_values(chart):
    env = {**chart["ConfigMap/uws-config"]["data"], **chart["Secret/uws-secret"]["stringData"]}
    for name in ("web", "worker"):
        env.update({item["name"]: item["value"] for item in _container(chart, name).get(
            "env", [])})
    assert env["UWS_DATA_DIR"] == "/data"
    _check_settings(env, "chart")


def test_the_chart_and_the_image_tag_carry_the_package_version():
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert meta["appVersion"] == values["image"]["tag"] == __version__


def test_the_renderer_refuses_what_it_does_not_know():
    with pytest.raises(Unsupported):
        render("{{ include \"x\" . }}", {})
    with pytest.raises(KeyError):
        render("{{ .Values.missing }}", {"Values": {}})
    assert render("a\n{{- range $k, $v := .m }}\n  {{ $k }}: {{ $v | quote }}\n{{- end }}\n",
                  {"m": {"b": 1, "a": "x"}}) == 'a\n  a: "x"\n  b: "1"\n'
