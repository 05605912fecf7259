"""The ceiling: a trivial Flask app, served by the service's own gunicorn configuration.

``bench/run.py`` starts it with ``gunicorn -c python:uws_server.gunicorn_conf`` (workers,
threads, worker class, logger and access log all the service's), so its rates are what
Flask under that gunicorn can do on this machine at all: the denominator of the ratios.
"""

from __future__ import annotations

from flask import Flask, Response, request

app = Flask(__name__)


@app.get("/trivial")
def trivial_get() -> Response:
    """A constant small XML body, like a tiny job document."""
    return Response("<ok/>", content_type="application/xml")


@app.post("/trivial")
def trivial_post() -> Response:
    """Read the form, as a job creation does, and answer 303 to a constant URL."""
    location = "/trivial" if request.form else "/trivial?empty"
    return Response("", status=303, headers={"Location": location})
