"""The `bridgedesk` command: serve, worker, migrate, demo, probe, invoices run, user add."""

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Sequence

from bridgedesk.app import figures
from bridgedesk.settings import get_settings

LOOPBACK_HOSTS = frozenset({"localhost", "::1"})


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from bridgedesk.availability import is_unavailable
    from bridgedesk.migrate import upgrade

    # Unless told otherwise, page cookies are Secure whenever the service listens beyond
    # loopback (where it is reached through HTTPS); the workers inherit the decision.
    if get_settings().secure_cookies is None:
        os.environ["BRIDGEDESK_SECURE_COOKIES"] = "false" if _is_loopback(args.host) else "true"
        get_settings.cache_clear()
    try:
        upgrade(get_settings().database_url)  # once, before the workers start
    except Exception as error:
        if not is_unavailable(error):
            raise
        # Each web worker keeps trying on its own and answers 503 until the database is back.
        print(f"database unreachable, serving 503 until it answers: {error}", file=sys.stderr)
    uvicorn.run(
        "bridgedesk.app.asgi:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from bridgedesk.app.worker import run_worker

    return run_worker(once=args.once, scheduler=not args.sip_only, sip=not args.no_sip)


def _migrate(_: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from bridgedesk.migrate import upgrade

    url = get_settings().database_url
    upgrade(url)
    print(f"database at head: {make_url(url).render_as_string(hide_password=True)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bridgedesk.app.demo import load_demo
    from bridgedesk.migrate import upgrade

    upgrade(get_settings().database_url)
    print(asyncio.run(load_demo(progress=print)))
    return 0


class PasswordRefused(Exception):
    """The password could not be read, or the two entries differ."""


MIN_PASSWORD = 8


def read_password(
    args: argparse.Namespace,
    *,
    prompt: Callable[[str], str] = getpass.getpass,
    stdin: Callable[[], str] = sys.stdin.readline,
) -> str:
    """`--password` (scripts), `--password-stdin` (first line of stdin) or asked twice without
    echo, so the password stays out of the shell history and the process list."""
    if args.password is not None:
        password = str(args.password)
    elif args.password_stdin:
        password = stdin().rstrip("\r\n")
    else:
        password = prompt("Password: ")
        if prompt("Password (again): ") != password:
            raise PasswordRefused("the two passwords differ")
    if len(password) < MIN_PASSWORD:
        raise PasswordRefused(f"the password needs at least {MIN_PASSWORD} characters")
    return password


def _user_add(args: argparse.Namespace) -> int:
    from bridgedesk.db import unit_of_work
    from bridgedesk.errors import DomainError
    from bridgedesk.identity import Role
    from bridgedesk.migrate import upgrade
    from bridgedesk.users import NewUser, create_user

    try:
        password = read_password(args)
    except (PasswordRefused, EOFError) as error:
        print(f"error: {error or 'no password given'}", file=sys.stderr)
        return 1
    upgrade(get_settings().database_url)

    async def add() -> str:
        async with unit_of_work() as session:
            user = await create_user(
                session,
                NewUser(
                    args.email,
                    args.name or args.email.split("@")[0],
                    password,
                    Role(args.role),
                    args.customer,
                ),
                by=None,
            )
            return f"user {user.id} {user.email} ({user.role})"

    try:
        print(asyncio.run(add()))
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 1
    return 0


def _invoices_run(args: argparse.Namespace) -> int:
    from billing.service import drafting
    from billing.service.periods import month_is_over
    from bridgedesk.clock import utcnow
    from bridgedesk.db import unit_of_work
    from bridgedesk.errors import DomainError
    from bridgedesk.migrate import upgrade

    try:
        unfinished = not month_is_over(args.month, utcnow())
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 1
    if unfinished and not args.force:
        print(
            f"error: {args.month} is not over in every time zone yet; its invoices would miss "
            "the calls still to come. Run it after the month, or pass --force for a preview.",
            file=sys.stderr,
        )
        return 1
    upgrade(get_settings().database_url)
    figures.install()

    async def run() -> drafting.RunResult:
        async with unit_of_work() as session:
            return await drafting.run_month(
                session, args.month, customer_id=args.customer, by=None, progress=print
            )

    try:
        result = asyncio.run(run())
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 1
    for problem in result.problems:
        print(f"attention: {problem}")
    print(
        f"{result.period}: {len(result.drafted)} draft invoice(s), {result.conferences} "
        f"conferences, {result.removed} empty draft(s) removed"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from bridgedesk.identity import Role

    parser = argparse.ArgumentParser(prog="bridgedesk", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service (API and pages)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="TCP port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="web server processes; the schema is upgraded once before they start "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn's log level (default: %(default)s)",
    )
    serve.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="do not log one line per request",
    )
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run the scheduled jobs and the SIP engine")
    worker.add_argument("--once", action="store_true", help="run every job once and exit")
    only = worker.add_mutually_exclusive_group()
    only.add_argument("--sip-only", action="store_true", help="only the SIP engine processes")
    only.add_argument("--no-sip", action="store_true", help="only the scheduler, no SIP engine")
    worker.set_defaults(run=_worker)

    commands.add_parser("migrate", help="upgrade the database").set_defaults(run=_migrate)
    commands.add_parser("demo", help="load demo data").set_defaults(run=_demo)

    # -- bridge commands --
    from bridge.engine.command import add_probe_command

    add_probe_command(commands)
    # -- billing commands --
    invoices = commands.add_parser("invoices", help="billing: draft a month's invoices")
    invoice_commands = invoices.add_subparsers(dest="invoices_command", required=True)
    invoice_run = invoice_commands.add_parser(
        "run", help="draft a month (replaces drafts; issued invoices are never touched)"
    )
    invoice_run.add_argument("--month", required=True, help="YYYY-MM")
    invoice_run.add_argument("--customer", type=int, default=None, help="one customer's id")
    invoice_run.add_argument(
        "--force",
        action="store_true",
        help="draft a month that is not over yet (drafts are replaced by the next run)",
    )
    invoice_run.set_defaults(run=_invoices_run)

    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="add a user")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    secret = add.add_mutually_exclusive_group()
    secret.add_argument(
        "--password", default=None, help="for scripts; without it the password is asked twice"
    )
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.add_argument("--customer", type=int, default=None, help="customer id (customer roles)")
    add.add_argument("--name", default=None)
    add.set_defaults(run=_user_add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The figures one package hands another (e.g. the service report sent with an invoice)
    # are connected in every process that may run their jobs: serve, worker, commands.
    figures.install()
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
