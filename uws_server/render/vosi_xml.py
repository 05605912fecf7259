"""VOSI 1.1 documents, valid against the IVOA schemas shipped in ``schemas/vosi/``.

:func:`capabilities_document` lists capabilities (``vr:Capability``), each
with a ``vs:ParamHTTP`` interface and its access URL; :func:`availability_document`
says whether the service is available, since when, and why not. Pure functions
of their arguments: the blueprint (:mod:`uws_server.api.vosi`) decides what to list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from ..timeutil import format_utc

CAPABILITIES_NS = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
AVAILABILITY_NS = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VR_NS = "http://www.ivoa.net/xml/VOResource/v1.0"
VS_NS = "http://www.ivoa.net/xml/VODataService/v1.1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

VOSI_CAPABILITIES = "ivo://ivoa.net/std/VOSI#capabilities"
VOSI_AVAILABILITY = "ivo://ivoa.net/std/VOSI#availability"
UWS = "ivo://ivoa.net/std/UWS"

_XSI_TYPE = f"{{{XSI_NS}}}type"


@dataclass(frozen=True)
class Capability:
    """One capability: what standard (if any), what it is, where it answers.

    ``access_url`` is used as a base (``use="base"``: the resources are below
    it) unless ``full`` says the URL is the whole resource.
    """

    description: str
    access_url: str
    standard_id: str | None = None
    version: str | None = None
    full: bool = False
    result_type: str | None = None


def capabilities_document(capabilities: Iterable[Capability]) -> bytes:
    """``<vosi:capabilities>`` with one ``<capability>`` per item, in order."""
    root = etree.Element(f"{{{CAPABILITIES_NS}}}capabilities",
                         nsmap={"vosi": CAPABILITIES_NS, "vr": VR_NS, "vs": VS_NS,
                                "xsi": XSI_NS})
    for item in capabilities:
        capability = etree.SubElement(root, "capability")
        if item.standard_id:
            capability.set("standardID", item.standard_id)
        etree.SubElement(capability, "description").text = item.description
        interface = etree.SubElement(capability, "interface")
        interface.set(_XSI_TYPE, "vs:ParamHTTP")
        if item.version:
            interface.set("version", item.version)
        if item.standard_id:
            interface.set("role", "std")  # an interface the standard defines
        url = etree.SubElement(interface, "accessURL", use="full" if item.full else "base")
        url.text = item.access_url
        if item.result_type:
            etree.SubElement(interface, "resultType").text = item.result_type
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def availability_document(available: bool, up_since: datetime | None,
                          notes: Iterable[str] = ()) -> bytes:
    """``<vosi:availability>``: ``available``, ``upSince`` and a ``note`` per reason."""
    root = etree.Element(f"{{{AVAILABILITY_NS}}}availability", nsmap={"vosi": AVAILABILITY_NS})
    etree.SubElement(root, f"{{{AVAILABILITY_NS}}}available").text = (
        "true" if available else "false")
    if up_since is not None:
        etree.SubElement(root, f"{{{AVAILABILITY_NS}}}upSince").text = format_utc(up_since)
    for note in notes:
        etree.SubElement(root, f"{{{AVAILABILITY_NS}}}note").text = note
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
