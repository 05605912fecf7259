"""The baseline: a trivial Flask app served by the same gunicorn configuration as uws-server.

Its rates are the denominator of every ratio ``bench/run.py`` reports, so that
numbers from different machines and runs can be compared.
"""

from __future__ import annotations

from flask import Flask, Response

app = Flask(__name__)


@app.get("/trivial")
def trivial_get() -> Response:
    """A constant small XML body, like a tiny job document."""
    return Response("<ok/>", content_type="application/xml")


@app.post("/trivial")
def trivial_post() -> Response:
    """A 303 to a constant URL, like a job creation."""
    return Response("", status=303, headers={"Location": "/trivial"})
