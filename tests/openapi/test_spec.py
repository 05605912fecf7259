"""The OpenAPI document matches the application: every route described, nothing invented.

The URL map of the real application is the truth. A route added without its path item in
``uws_server/openapi/<door>.yaml``, a documented path or method the app does not have, or an
``operationId`` that is not the route's Flask endpoint fails here; so does a document that
is not valid OpenAPI 3.1, or two fragments that describe the same thing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from openapi_spec_validator import validate

from uws_server import __version__
from uws_server.app import create_app
from uws_server.config import Settings
from uws_server.openapi import FragmentConflict, build_document, load_fragments
from uws_server.openapi.document import HTTP_SERVER_RESPONSES
from uws_server.wiring import bootstrap

ROOT = Path(__file__).resolve().parent.parent.parent
METHODS = {"get", "put", "post", "delete", "patch"}

#: Routes the document does not describe, and why. Nothing else may be left out.
EXCLUDED_ENDPOINTS = {
    "static",  # Flask's static files: the web interface's CSS and scripts, not an API
    "openapi.docs_asset",  # Swagger UI's own scripts and styles under /docs/assets/
}
#: Operations that answer every caller and every request alike (a probe, VOSI availability):
#: they document no client error of their own.
NEVER_REFUSES = {"health.health", "health.ready", "vosi.availability", "vosi.uws_availability"}
#: Blueprints left out whole: the HTML pages of the web interface (for people, not an API).
EXCLUDED_BLUEPRINTS = {"ui"}


def _openapi_path(rule: str) -> str:
    """``/uws/<jobtype>/<int:index>`` → ``/uws/{jobtype}/{index}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _normal(path: str) -> str:
    """Trailing slashes aside: ``/v6/job-types`` and ``/v6/job-types/`` are one route."""
    return path.rstrip("/") or "/"


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], set[str]]:
    """``(exact OpenAPI path, method)`` → Flask endpoints, from the real app's URL map."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("openapi-app"))
    bootstrap(settings)
    app = create_app(settings)
    found: dict[tuple[str, str], set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXCLUDED_ENDPOINTS \
                or rule.endpoint.split(".")[0] in EXCLUDED_BLUEPRINTS:
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found.setdefault((_openapi_path(rule.rule), method.lower()), set()).add(
                rule.endpoint)
    return found


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


def test_document_is_valid_openapi_3_1_with_the_package_version(document):
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["version"] == __version__
    assert document["servers"] == [{"url": "/"}]


def test_every_route_of_the_url_map_is_documented(routes, document):
    documented = {(_normal(path), method) for path, method, _ in _operations(document)}
    missing = sorted({(path, method) for path, method in routes
                      if (_normal(path), method) not in documented})
    assert not missing, f"routes without an OpenAPI path item: {missing}"


def test_every_documented_operation_is_a_route_with_that_endpoint_name(routes, document):
    for path, method, operation in _operations(document):
        assert (path, method) in routes, f"{method.upper()} {path} is documented, not routed"
        endpoints = {e.removesuffix("_noslash") for e in routes[(path, method)]}
        assert endpoints == {operation["operationId"]}, (path, method, endpoints)


def test_operation_ids_are_unique_and_every_operation_is_complete(document):
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for path, method, operation in _operations(document):
        assert operation.get("summary"), (path, method)
        statuses = set(operation["responses"])
        assert any(s.startswith(("2", "3")) for s in statuses), (path, method)
        own = statuses - set(HTTP_SERVER_RESPONSES)
        if operation["operationId"] in NEVER_REFUSES:
            continue
        assert any(s.startswith("4") for s in own), (path, method, "no error status")


def test_path_parameters_are_named_as_in_the_flask_rule(document):
    parameters = document["components"]["parameters"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            declared = {p["name"] for p in
                        (parameters[p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                         for p in [*item.get("parameters", []),
                                   *operation.get("parameters", [])])
                        if p["in"] == "path"}
            assert declared == set(re.findall(r"{([^}]+)}", path)), (path, method, declared)


def test_xml_documents_point_at_an_element_of_the_shipped_uws_schema(document):
    schemas = document["components"]["schemas"]
    xml_refs = [media["schema"]["$ref"].rsplit("/", 1)[1]
                for _, _, operation in _operations(document)
                for response in operation["responses"].values()
                for kind, media in response.get("content", {}).items() if "xml" in kind]
    xml_refs = [name for name in xml_refs if name.startswith("Uws")]  # VOSI: tests/ops
    assert len(set(xml_refs)) == 4  # job, jobs, parameters, results
    for name in set(xml_refs):
        xsd = schemas[name]["x-xsd"]
        tree = etree.parse(str(ROOT / xsd["schema"]))
        declared = tree.xpath("/xs:schema/xs:element/@name",
                              namespaces={"xs": "http://www.w3.org/2001/XMLSchema"})
        assert xsd["element"] in declared, (name, xsd)
        assert schemas[name]["xml"]["name"] == xsd["element"]


def test_two_fragments_describing_one_path_are_refused():
    fragment = {"paths": {"/uws": {"get": {"operationId": "x", "responses": {}}}}}
    with pytest.raises(FragmentConflict, match=r"path '/uws' is already described by a.yaml"):
        build_document([("a.yaml", fragment), ("b.yaml", fragment)])


def test_two_fragments_naming_one_schema_are_refused():
    shared = {"components": {"schemas": {"BatchSummary": {"type": "object"}}}}
    with pytest.raises(FragmentConflict, match="BatchSummary"):
        build_document([("batches.yaml", shared), ("agave.yaml", shared)])
    shadow = {"components": {"schemas": {"DetailError": {"type": "object"}}}}
    with pytest.raises(FragmentConflict, match="shared components"):
        build_document([("mine.yaml", shadow)])


def test_a_fragment_with_unknown_top_level_keys_is_refused(tmp_path):
    (tmp_path / "bad.yaml").write_text("paths: {}\ninfo: {title: mine}\n")
    with pytest.raises(FragmentConflict, match=r"bad\.yaml: unknown top-level keys"):
        load_fragments(tmp_path)


def test_the_shipped_fragments_load_without_conflict():
    names = [name for name, _ in load_fragments()]
    assert {"uws.yaml", "ocps.yaml", "jobtypes.yaml", "root.yaml"} <= set(names)
