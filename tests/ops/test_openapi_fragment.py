"""uws_server/openapi/ops.yaml describes exactly the operations door's routes."""

from __future__ import annotations

import re

import yaml

from uws_server.app import create_app
from uws_server.config import Settings
from uws_server.resources import PACKAGE_DIR
from uws_server.wiring import bootstrap

DOORS = ("health.", "metrics.", "vosi.")


def test_every_ops_route_is_in_the_fragment_with_its_endpoint_as_operation_id(tmp_path):
    settings = Settings(data_dir=tmp_path)
    bootstrap(settings)
    routes = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower(), rule.endpoint)
              for rule in create_app(settings).url_map.iter_rules()
              if rule.endpoint.startswith(DOORS)
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    doc = yaml.safe_load((PACKAGE_DIR / "openapi" / "ops.yaml").read_text())
    documented = {(path, method, op["operationId"]) for path, item in doc["paths"].items()
                  for method, op in item.items()}
    assert documented == routes
    for item in doc["paths"].values():
        for op in item.values():
            assert op["summary"] and "200" in op["responses"] and "parameters" in op
            for response in op["responses"].values():
                assert response["content"], op["operationId"]
    names = set(doc["components"]["schemas"])
    assert all(name.startswith("Ops") for name in names)
    refs = set(re.findall(r"#/components/schemas/(\w+)", yaml.safe_dump(doc)))
    assert refs <= names
