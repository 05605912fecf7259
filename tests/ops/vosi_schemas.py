"""The shipped VOSI schemas, loaded offline: their public import URLs mapped to the files."""

from __future__ import annotations

from functools import cache

from lxml import etree

from uws_server.resources import schema_path

#: Each schemaLocation the shipped schemas import, and the file of schemas/vosi/ it names.
URL_TO_FILE = {
    "http://www.ivoa.net/xml/VOResource/v1.0": "VOResource-v1.2.xsd",
    "http://www.ivoa.net/xml/STC/stc-v1.30.xsd": "STC-v1.30.xsd",
}


class _Local(etree.Resolver):
    def resolve(self, url, pubid, context):
        name = URL_TO_FILE.get(url)
        if name is not None:
            return self.resolve_filename(str(schema_path(f"vosi/{name}")), context)
        if url.startswith(("http:", "https:")):
            raise AssertionError(f"a schema imports {url}, which schemas/vosi/ does not hold")
        return None  # a relative location (./xlink.xsd): lxml finds it beside the importer


def _load(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Local())
    return etree.XMLSchema(etree.parse(str(schema_path(f"vosi/{name}")), parser))


@cache
def capabilities_schema() -> etree.XMLSchema:
    """VOSICapabilities with VOResource and VODataService (for ``xsi:type="vs:ParamHTTP"``).

    The capabilities schema does not import VODataService itself; a small driver schema
    imports both, as a validator reading ``xsi:type`` would need.
    """
    caps = schema_path("vosi/VOSICapabilities-v1.0.xsd").as_uri()
    vs = schema_path("vosi/VODataService-v1.2.xsd").as_uri()
    driver = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
      <xs:import namespace="http://www.ivoa.net/xml/VOSICapabilities/v1.0" schemaLocation="{caps}"/>
      <xs:import namespace="http://www.ivoa.net/xml/VODataService/v1.1" schemaLocation="{vs}"/>
    </xs:schema>"""
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Local())
    return etree.XMLSchema(etree.fromstring(driver.encode(), parser,
                                            base_url=schema_path("vosi/README.md").as_uri()))


@cache
def availability_schema() -> etree.XMLSchema:
    """VOSIAvailability (imports nothing)."""
    return _load("VOSIAvailability-v1.0.xsd")
