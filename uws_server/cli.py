"""The ``uws-server`` command: serve, worker, db upgrade, jobtype validate."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .auth import cli as auth_cli
from .config import ConfigError, Settings, load_settings
from .logs import configure_logging


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = Path(value) if name == "data_dir" else value
    return load_settings(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    """The embedded default: web server and dispatcher in one command."""
    from .auth.exposure import exposure_problem
    from .server import CannotListen, TLSFilesError, serve, tls_files

    settings = _settings(args)
    configure_logging(settings)
    problem = None if args.insecure_anonymous else exposure_problem(settings)
    if problem is not None:
        print(f"uws-server: {problem}", file=sys.stderr)
        return 2
    try:
        return serve(settings, threads=args.threads, tls=tls_files(args.certfile, args.keyfile))
    except TLSFilesError as exc:
        print(f"uws-server: {exc}", file=sys.stderr)
        return 2
    except CannotListen as exc:  # before anything was migrated or created
        print(f"uws-server: {exc}", file=sys.stderr)
        return 1


def cmd_worker(args: argparse.Namespace) -> int:
    """The dispatcher alone, for deployments where gunicorn serves the web tier."""
    from .metrics import process_ended, use_multiprocess
    from .wiring import bootstrap, build_components, build_dispatcher

    settings = _settings(args)
    configure_logging(settings)
    use_multiprocess(settings, "worker", fresh=True)  # read by /metrics on this host
    bootstrap(settings)
    components = build_components(settings)
    dispatcher = build_dispatcher(components)
    components.bus.subscribe(dispatcher.kick)

    def _stop(_signum: int, _frame: Any) -> None:
        dispatcher.stop(timeout=0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    dispatcher.run_forever()
    dispatcher.executor.close()
    components.bus.close()
    process_ended(os.getpid())
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database to the newest schema."""
    from .db import upgrade

    settings = _settings(args)
    configure_logging(settings)
    upgrade(settings.effective_database_url)
    print("database is at the newest schema")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    """Print the database's schema revision; exit 0 at the newest, 1 behind it (or empty)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .schema_versions import current, head

    settings = _settings(args)
    try:
        revision = current(settings.effective_database_url)
    except SQLAlchemyError as exc:
        print(f"uws-server: cannot read the database: {type(exc).__name__}", file=sys.stderr)
        return 2
    newest = head()
    if revision is None:
        print(f"none (an empty database; the newest schema is {newest})")
        return 1
    print(f"{revision} (head)" if revision == newest
          else f"{revision} (behind: the newest schema is {newest}; run uws-server db upgrade)")
    return 0 if revision == newest else 1


def cmd_db_history(args: argparse.Namespace) -> int:
    """Print every schema revision this version ships, newest first, marking the current one
    (when the database can be read)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .schema_versions import current, head, history

    at: str | None = None
    try:
        at = current(_settings(args).effective_database_url)
    except SQLAlchemyError:
        at = None
    newest = head()
    for revision in history():
        marks = [mark for mark, on in (("head", revision.id == newest),
                                       ("current", revision.id == at)) if on]
        shown = f" ({', '.join(marks)})" if marks else ""
        print(f"{revision.down or '<base>'} -> {revision.id}{shown}: {revision.title}")
    return 0


def cmd_jobtype_validate(args: argparse.Namespace) -> int:
    """Check a job type file as the registry does; print each problem with its field path.

    The file is a Seed manifest, or a whole ``POST /v6/job-types/`` body (an
    object with a ``manifest``, and perhaps a ``configuration``). The verdict
    is the registry's own (:func:`~uws_server.jobtypes.registry.check_request`,
    which ``POST /v6/job-types/validation/`` runs): the same errors, the same
    warnings, the same normalisation (an unnamed ``errors[]`` entry is a warning).
    """
    from .jobtypes.registry import check_request

    try:
        document = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"{args.file}: cannot read: {exc}", file=sys.stderr)
        return 1
    body = document if isinstance(document, dict) and "manifest" in document \
        else {"manifest": document}
    validation = check_request(body)
    if args.json:
        print(json.dumps(validation.as_dict(), indent=2))
    else:
        for problem in validation.errors:
            print(f"error: {problem.name}: {problem.description}")
        for problem in validation.warnings:
            print(f"warning: {problem.name}: {problem.description}")
        count = len(validation.errors)
        print(f"{args.file}: valid" if validation.is_valid
              else f"{args.file}: invalid ({count} error{'s' if count > 1 else ''})")
    return 0 if validation.is_valid else 1


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``uws-server``."""
    top = argparse.ArgumentParser(prog="uws-server", description="IVOA UWS 1.1 job service")
    top.add_argument("--version", action="version", version=f"uws-server {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="web server and dispatcher in one process")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--data-dir", help="where the database and job files live")
    serve.add_argument("--threads", type=int, default=32,
                       help="threads for ordinary requests (default 32); blocked WAITs get "
                            "UWS_MAX_WAITERS more")
    serve.add_argument("--certfile", help="serve HTTPS with this PEM certificate (chain); "
                                          "needs --keyfile")
    serve.add_argument("--keyfile", help="the PEM private key of --certfile")
    serve.add_argument("--insecure-anonymous", action="store_true",
                       help="serve beyond loopback although anonymous callers operate it")
    serve.set_defaults(func=cmd_serve)
    worker = commands.add_parser("worker", help="the dispatcher alone")
    worker.add_argument("--data-dir")
    worker.set_defaults(func=cmd_worker)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    up = db_commands.add_parser("upgrade", help="migrate to the newest schema")
    up.add_argument("--data-dir")
    up.set_defaults(func=cmd_db_upgrade)
    cur = db_commands.add_parser("current", help="the database's schema revision (exit 1 "
                                                 "when behind the newest)")
    cur.add_argument("--data-dir")
    cur.set_defaults(func=cmd_db_current)
    hist = db_commands.add_parser("history", help="every schema revision, newest first")
    hist.add_argument("--data-dir")
    hist.set_defaults(func=cmd_db_history)
    jobtype = commands.add_parser("jobtype", help="job type tools")
    jt_commands = jobtype.add_subparsers(dest="jobtype_command", required=True)
    validate = jt_commands.add_parser(
        "validate", help="check a Seed manifest (or a POST /v6/job-types/ body) as the registry "
                         "would")
    validate.add_argument("file")
    validate.add_argument("--json", action="store_true",
                          help="print {is_valid, errors, warnings}, as the registry answers")
    validate.set_defaults(func=cmd_jobtype_validate)
    auth_cli.add_commands(commands, _settings)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"uws-server: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
