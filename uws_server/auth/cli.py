"""``uws-server user …``, ``token …`` and ``job share``: managing who may do what.

These run against the configured database directly (migrating it first if it
is new), so the first admin and token can be made before the service starts.
A token is printed once, on its own line, and never again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..config import Settings
from ..db import Database, upgrade
from ..errors import UWSError
from ..identity import SYSTEM
from ..timeutil import format_utc
from .users import QUOTA_NAMES, UserService

SettingsFrom = Callable[[argparse.Namespace], Settings]


@contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        yield db
    finally:
        db.dispose()


def _run(settings_from: SettingsFrom, action: Callable[[Database, argparse.Namespace], int]
         ) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        with _database(settings_from(args)) as db:
            try:
                return action(db, args)
            except UWSError as exc:
                print(f"uws-server: {exc.message}", file=sys.stderr)
                return 1
    return command


def _user_add(db: Database, args: argparse.Namespace) -> int:
    info = UserService(db).add_user(args.name, admin=args.admin, groups=tuple(args.group or ()))
    role = "admin" if info.is_admin else "user"
    print(f"added {role} {info.name}" + (f" (groups: {', '.join(info.groups)})"
                                          if info.groups else ""))
    return 0


def _user_list(db: Database, _args: argparse.Namespace) -> int:
    for info in UserService(db).list_users():
        quotas = ", ".join(f"{k}={v}" for k, v in sorted(info.quotas.items()))
        print(f"{info.name}\t{'admin' if info.is_admin else 'user'}\t"
              f"groups={','.join(info.groups) or '-'}\ttokens={info.tokens}\t"
              f"quotas={quotas or 'defaults'}")
    return 0


def _user_quota(db: Database, args: argparse.Namespace) -> int:
    try:
        value = None if args.value.lower() == "default" else int(args.value)
    except ValueError:
        print(f"uws-server: quota value {args.value!r}: expected a number or 'default'",
              file=sys.stderr)
        return 2
    UserService(db).set_quota(args.name, args.quota, value)
    print(f"{args.name}: {args.quota} = {args.value}")
    return 0


def _token_create(db: Database, args: argparse.Namespace) -> int:
    info, token = UserService(db).create_token(args.user, label=args.name or "",
                                               expires_days=args.expires)
    expiry = format_utc(info.expires_at) if info.expires_at else "never"
    print(f"token {info.token_id} for {info.user} (expires {expiry}); shown only now:",
          file=sys.stderr)
    print(token)
    return 0


def _token_list(db: Database, args: argparse.Namespace) -> int:
    for info in UserService(db).list_tokens(args.user):
        state = "active" if info.is_active else ("revoked" if info.revoked_at else "expired")
        used = format_utc(info.last_used) if info.last_used else "never"
        print(f"{info.token_id}\t{info.user}\t{state}\tname={info.label or '-'}\t"
              f"created={format_utc(info.created)}\tlast_used={used}")
    return 0


def _token_revoke(db: Database, args: argparse.Namespace) -> int:
    info = UserService(db).revoke_token(args.token_id)
    print(f"revoked token {info.token_id} of {info.user}")
    return 0


def _job_share(db: Database, args: argparse.Namespace) -> int:
    from ..services.grants import GrantService

    grant = GrantService(db).share(SYSTEM, args.job, args.user, args.permission)
    print(f"job {grant.job_id}: {grant.username} holds {grant.permission}")
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                 settings_from: SettingsFrom) -> None:
    """Add ``user``, ``token`` and ``job`` to the ``uws-server`` command."""
    user = commands.add_parser("user", help="users: add, list, quotas")
    users = user.add_subparsers(dest="user_command", required=True)
    add = users.add_parser("add", help="add a user")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may see everything, run the registry")
    add.add_argument("--group", action="append", help="a group (repeatable)")
    add.set_defaults(func=_run(settings_from, _user_add))
    listing = users.add_parser("list", help="list users")
    listing.set_defaults(func=_run(settings_from, _user_list))
    quota = users.add_parser("quota", help="override one quota of a user")
    quota.add_argument("name")
    quota.add_argument("quota", choices=QUOTA_NAMES)
    quota.add_argument("value", help="a number (0 = unlimited) or 'default'")
    quota.set_defaults(func=_run(settings_from, _user_quota))

    token = commands.add_parser("token", help="API tokens: create, list, revoke")
    tokens = token.add_subparsers(dest="token_command", required=True)
    create = tokens.add_parser("create", help="issue a token (printed once)")
    create.add_argument("user")
    create.add_argument("--expires", type=float, metavar="DAYS", help="valid for DAYS days")
    create.add_argument("--name", help="a label to tell tokens apart")
    create.set_defaults(func=_run(settings_from, _token_create))
    token_list = tokens.add_parser("list", help="list tokens (never their secrets)")
    token_list.add_argument("user", nargs="?")
    token_list.set_defaults(func=_run(settings_from, _token_list))
    revoke = tokens.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=_run(settings_from, _token_revoke))

    job = commands.add_parser("job", help="jobs: share")
    jobs = job.add_subparsers(dest="job_command", required=True)
    share = jobs.add_parser("share", help="give USER a PERMISSION on JOB (NONE removes it)")
    share.add_argument("job")
    share.add_argument("user")
    share.add_argument("permission", help="READ, WRITE, EXECUTE, READ_WRITE, READ_EXECUTE, "
                                          "WRITE_EXECUTE, ALL or NONE")
    share.set_defaults(func=_run(settings_from, _job_share))
    for parser in (add, listing, quota, create, token_list, revoke, share):
        parser.add_argument("--data-dir")
