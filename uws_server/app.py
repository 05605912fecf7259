"""The Flask application factory: blueprints and error handlers, wiring only."""

from __future__ import annotations

from flask import Flask, Response, request

from .config import Settings, load_settings
from .health import Readiness
from .server_header import SERVER_HEADER
from .wiring import Components, build_components

#: Endpoints anybody may call without credentials: they show nothing about jobs.
PUBLIC_ENDPOINTS = frozenset({"root.index", "static",
                              "ui.signin_form", "ui.signin",  # the web interface's sign-in
                              "openapi.spec", "openapi.docs", "openapi.docs_asset"})
#: Operations (docs/operations.md): probes and VOSI availability for anyone; /metrics is
#: guarded by its own networks and token (UWS_METRICS_*), not by users.
PUBLIC_ENDPOINTS |= {"health.health", "health.ready", "metrics.metrics", "vosi.availability",
                     "vosi.uws_availability"}

#: Where the process's components live on the app; read through ``api.http.components()``.
EXTENSION_KEY = "uws"


def create_app(settings: Settings | None = None, components: Components | None = None) -> Flask:
    """Build the web application (the database must already be migrated: see ``bootstrap``)."""
    settings = settings or (components.settings if components else load_settings())
    parts = components or build_components(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.extensions[EXTENSION_KEY] = parts

    from .api import batches, errors, guards, health, metrics, observe, ocps, root, uws, vosi
    from .api import jobtypes as jobtypes_api
    from .api import openapi as openapi_api
    from .api.agave import bp as agave_bp
    from .api.http import current_identity

    errors.register(app)
    guards.register(app, settings)  # host, origin, media type, UTF-8: before any blueprint
    observe.register(app)  # request ids and HTTP metrics: before and after everything else
    app.extensions[health.READINESS_KEY] = Readiness(parts.db, settings.run_dir)
    app.register_blueprint(health.bp)  # /health, /ready
    app.register_blueprint(metrics.bp)  # /metrics
    app.register_blueprint(vosi.bp)  # /capabilities, /availability, and under /uws
    app.register_blueprint(root.bp)
    app.register_blueprint(uws.bp)
    app.register_blueprint(jobtypes_api.bp)  # the job-type registry, /v6
    app.register_blueprint(ocps.bp)  # the Rubin OCPS v1 dialect, /api/v1
    from . import ui
    from .ui import session as ui_session

    ui_session.configure(app, settings)  # the web interface's signed session cookie
    app.register_blueprint(ui.bp)  # the web interface, /ui (authenticates itself)
    app.register_blueprint(openapi_api.bp)  # /openapi.json and /docs (Swagger UI)
    openapi_api.check_document()  # fragments that conflict stop the service here
    app.register_blueprint(batches.bp)  # the batch API of reference 003, /batches
    app.register_blueprint(agave_bp)  # the Agave jobs API, /jobs/v2

    @app.before_request
    def _authenticate() -> None:
        """Who is calling, before anything else: a 401 comes before any other answer."""
        if request.blueprint == "ui":
            return  # the web interface reads its session cookie first (uws_server.ui)
        if request.endpoint is not None and request.endpoint not in PUBLIC_ENDPOINTS:
            current_identity()

    @app.after_request
    def _server_header(response: Response) -> Response:
        response.headers["Server"] = SERVER_HEADER
        return response

    return app
