"""VOSI 1.1 ``/capabilities`` and ``/availability``, at the service root and for the UWS door.

VOSI places both beside the resources of the service they describe. The
service root describes the whole service: the VOSI resources themselves, one
UWS capability (``ivo://ivoa.net/std/UWS``, UWS 1.1) per job list, and the
other front doors (the job-type registry, the OCPS dialect) as capabilities
without a standard. The UWS door is itself a service whose job lists are
``/uws/<jobtype>``, so it has its own pair at ``/uws/capabilities`` and
``/uws/availability``, listing its job lists only (the registry refuses a job type
named ``capabilities`` or ``availability``: ``RESERVED_UWS_NAMES``).
Availability is the readiness report (:mod:`uws_server.health`): available when
every check passes, ``upSince`` the process's start, a ``note`` per failed check.
"""

from __future__ import annotations

from flask import Blueprint, Response

from .. import __version__
from ..jobtypes.registry import RESERVED_UWS_NAMES
from ..render import vosi_xml
from ..render.vosi_xml import UWS, VOSI_AVAILABILITY, VOSI_CAPABILITIES, Capability
from .health import readiness
from .http import base_url, components, xml_response

bp = Blueprint("vosi", __name__)



def _vosi(prefix: str) -> list[Capability]:
    return [
        Capability("VOSI capabilities: this document", f"{prefix}/capabilities",
                   VOSI_CAPABILITIES, "1.1", full=True),
        Capability("VOSI availability: whether the service can take work now",
                   f"{prefix}/availability", VOSI_AVAILABILITY, "1.1", full=True),
    ]


def _job_lists(root: str) -> list[Capability]:
    names = [name for name in components().jobs.job_type_names()
             if name not in RESERVED_UWS_NAMES]
    return [Capability(f"UWS 1.1 job list of job type {name} (uws-server {__version__})",
                       f"{root}/uws/{name}", UWS, "1.1") for name in names]


@bp.get("/capabilities")
def capabilities() -> Response:
    """Every front door of the service, the UWS job lists first."""
    root = base_url()
    doors = [
        Capability("Job-type registry (Scale v6 style): job types, their revisions and "
                   "status", f"{root}/v6/job-types/", result_type="application/json"),
        Capability("Rubin OCPS v1 job dialect", f"{root}/api/v1/job",
                   result_type="application/json"),
        Capability("Readiness of the service (JSON): database, migrations, dispatcher, "
                   "backend", f"{root}/ready", full=True, result_type="application/json"),
    ]
    return xml_response(vosi_xml.capabilities_document(
        [*_vosi(root), *_job_lists(root), *doors]))


@bp.get("/uws/capabilities")
def uws_capabilities() -> Response:
    """The UWS door alone: its VOSI resources and its job lists."""
    root = base_url()
    return xml_response(vosi_xml.capabilities_document(
        [*_vosi(f"{root}/uws"), *_job_lists(root)]))


@bp.get("/availability")
@bp.get("/uws/availability", endpoint="uws_availability")
def availability() -> Response:
    """``available`` from the readiness checks; a note per check that failed."""
    checker = readiness()
    report = checker.report()
    notes = [f"check failed: {name}" for name in report.failed] or [
        "database, migrations, dispatcher and backend checks passed"]
    return xml_response(vosi_xml.availability_document(report.ready, checker.up_since, notes))
