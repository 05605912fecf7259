"""UWS 1.1 XML documents, valid against the official schema (schemas/uws/).

The ``uws``, ``xlink`` and ``xsi`` namespaces are declared once on the root
with exactly those prefixes: pyvo looks attributes up by the literal name
``xlink:href`` and uws-client checks the root's namespace map.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from lxml import etree

from ..services.params import XML_UNSAFE
from ..services.views import JobRef
from ..services.views import JobView as Job
from ..timeutil import format_utc
from .urls import job_url, parameter_url, result_url

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"uws": UWS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
JOBINFO_NS = "urn:uws-server:jobinfo"

_U = f"{{{UWS_NS}}}"
_NIL = f"{{{XSI_NS}}}nil"
_HREF = f"{{{XLINK_NS}}}href"
_TYPE = f"{{{XLINK_NS}}}type"


def _root(tag: str) -> etree._Element:
    # The schema allows ``version`` only on <uws:job> and <uws:jobs>, not on
    # <uws:parameters> or <uws:results>.
    if tag in ("job", "jobs"):
        return etree.Element(_U + tag, nsmap=NSMAP, version="1.1")
    return etree.Element(_U + tag, nsmap=NSMAP)


def _text(parent: etree._Element, tag: str, value: str | None, *, nillable: bool) -> None:
    element = etree.SubElement(parent, _U + tag)
    if value is None or value == "":
        if nillable:
            element.set(_NIL, "true")
        return
    element.text = value


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _parameters(parent: etree._Element, list_url: str, job: Job) -> None:
    for param in job.parameters:
        element = etree.SubElement(parent, _U + "parameter", id=param.name)
        if param.is_file:
            element.set("byReference", "true")
            element.text = parameter_url(list_url, job, param)
        else:
            element.text = _xml_safe(param.value)


def _xml_safe(value: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters other than tab, newline and
    carriage return; U+FFFE, U+FFFF): a value stored before they were refused at the door
    still makes a valid document."""
    return XML_UNSAFE.sub("", value)


def _results(parent: etree._Element, list_url: str, job: Job) -> None:
    for result in job.results:
        element = etree.SubElement(parent, _U + "result", id=result.result_id)
        element.set(_TYPE, "simple")
        element.set(_HREF, result_url(list_url, job, result))
        if result.size is not None:
            element.set("size", str(result.size))
        if result.mime_type:
            element.set("mime-type", result.mime_type)


def _job_info(parent: etree._Element, info: Mapping[str, Any]) -> None:
    element = etree.SubElement(parent, _U + "jobInfo")
    for key, value in info.items():
        child = etree.SubElement(element, f"{{{JOBINFO_NS}}}{key}", nsmap={"info": JOBINFO_NS})
        child.text = _xml_safe(value if isinstance(value, str) else _json(value))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def job_document(list_url: str, job: Job) -> bytes:
    """``<uws:job>``: the whole job, children in the order the schema fixes."""
    root = _root("job")
    _text(root, "jobId", job.id, nillable=False)
    if job.run_id:
        _text(root, "runId", _xml_safe(job.run_id), nillable=False)
    _text(root, "ownerId", job.owner_id and _xml_safe(job.owner_id), nillable=True)
    _text(root, "phase", job.phase, nillable=False)
    _text(root, "quote", format_utc(job.quote), nillable=True)
    _text(root, "creationTime", format_utc(job.creation_time), nillable=False)
    _text(root, "startTime", format_utc(job.start_time), nillable=True)
    _text(root, "endTime", format_utc(job.end_time), nillable=True)
    _text(root, "executionDuration", str(job.execution_duration), nillable=False)
    _text(root, "destruction", format_utc(job.destruction_time), nillable=True)
    _parameters(etree.SubElement(root, _U + "parameters"), list_url, job)
    _results(etree.SubElement(root, _U + "results"), list_url, job)
    if job.error_message:
        summary = etree.SubElement(root, _U + "errorSummary", type=job.error_type or "fatal",
                                   hasDetail="true" if job.error_detail else "false")
        etree.SubElement(summary, _U + "message").text = _xml_safe(job.error_message)
    if job.job_info:
        _job_info(root, job.job_info)
    return _serialize(root)


def _jobref(list_url: str, job: JobRef | Job) -> str:
    """One ``<uws:jobref>`` as text, byte for byte what lxml writes for it (a test pins
    that down): building elements cost half of a ``LAST=100`` list's time."""
    run_id = (f"<uws:runId>{_escape_text(_xml_safe(job.run_id))}</uws:runId>" if job.run_id
              else "")
    owner = (f"<uws:ownerId>{_escape_text(_xml_safe(job.owner_id))}</uws:ownerId>"
             if job.owner_id
             else '<uws:ownerId xsi:nil="true"/>')
    return (f'<uws:jobref id="{_escape_attribute(job.id)}" xlink:type="simple" '
            f'xlink:href="{_escape_attribute(job_url(list_url, job))}">'
            f"<uws:phase>{_escape_text(job.phase)}</uws:phase>{run_id}{owner}"
            f"<uws:creationTime>{format_utc(job.creation_time)}</uws:creationTime>"
            "</uws:jobref>")


_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                                    "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _escape_text(value: str) -> str:
    return value.translate(_TEXT_ESCAPES)


def _escape_attribute(value: str) -> str:
    return value.translate(_ATTRIBUTE_ESCAPES)


def _list_head() -> bytes:
    """The XML declaration and the opening ``<uws:jobs ...>`` tag, as lxml writes them."""
    root = _root("jobs")
    etree.SubElement(root, _U + "jobref")
    text = _serialize(root)
    return text[:text.index(b"<uws:jobref")]


_LIST_HEAD = _list_head()
_LIST_TAIL = b"</uws:jobs>"


def job_list_document(list_url: str, jobs: Iterable[JobRef | Job]) -> bytes:
    """``<uws:jobs>``: one ``jobref`` per job with phase, runId, ownerId and creationTime."""
    return b"".join(job_list_chunks(list_url, jobs))


def job_list_chunks(list_url: str, jobs: Iterable[JobRef | Job], per_chunk: int = 500
                    ) -> Iterator[bytes]:
    """:func:`job_list_document` in pieces, rendered as ``jobs`` are read (bounded memory):
    the opening tag with the first ``per_chunk`` jobrefs, then ``per_chunk`` at a time,
    then the closing tag (an empty list is one empty element, as lxml writes it)."""
    pieces: list[str] = []
    opened = False
    for job in jobs:
        pieces.append(_jobref(list_url, job))
        if len(pieces) == per_chunk:
            yield (b"" if opened else _LIST_HEAD) + "".join(pieces).encode()
            opened, pieces = True, []
    if not opened and not pieces:
        yield _serialize(_root("jobs"))
        return
    yield (b"" if opened else _LIST_HEAD) + "".join(pieces).encode() + _LIST_TAIL


def parameters_document(list_url: str, job: Job) -> bytes:
    """``<uws:parameters>``, possibly empty."""
    root = _root("parameters")
    _parameters(root, list_url, job)
    return _serialize(root)


def results_document(list_url: str, job: Job) -> bytes:
    """``<uws:results>``, possibly empty."""
    root = _root("results")
    _results(root, list_url, job)
    return _serialize(root)


def chunks_with_stylesheet(chunks: Iterator[bytes], href: str) -> Iterator[bytes]:
    """A document in pieces (:func:`job_list_chunks`), its first piece :func:`with_stylesheet`."""
    first = next(chunks, None)
    if first is None:
        return
    yield with_stylesheet(first, href)
    yield from chunks


def with_stylesheet(document: bytes, href: str) -> bytes:
    """``document`` with an ``<?xml-stylesheet?>`` instruction after its XML declaration.

    Browsers render the document through the XSLT at ``href``; XML parsers (pyvo,
    XSD validation) skip processing instructions, so they see the same document.
    """
    declaration, newline, rest = document.partition(b"\n")
    if not declaration.startswith(b"<?xml ") or not newline:
        return document
    quoted = (href.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
              .replace("?>", "?&gt;"))
    instruction = f'<?xml-stylesheet type="text/xsl" href="{quoted}"?>'.encode()
    return declaration + b"\n" + instruction + b"\n" + rest
