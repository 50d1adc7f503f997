"""The `leadnurture` command."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from app.settings import Settings, get_settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.observability import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop" if sys.platform != "win32" else "auto",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    return 0


def _worker(_args: argparse.Namespace) -> int:
    from app.db import Database
    from app.observability import configure_logging
    from app.scheduler import build_scheduler, stopping

    settings = get_settings()
    configure_logging(settings.log_level)
    from app import subscribers  # noqa: F401  (wires domain-event subscribers)

    db = Database(settings)
    scheduler = build_scheduler(db, settings)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    stop.wait()
    stopping.set()
    scheduler.shutdown(wait=True)  # let the claimed batch finish; the rest stays due
    db.dispose()
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from app.migrate import upgrade

    upgrade(get_settings().database_url)
    print("database is at the latest schema")
    return 0


def _create_api_key(args: argparse.Namespace) -> int:
    from app.access.service import create_api_key
    from app.db import Database

    db = Database(get_settings())
    with db.transaction() as session:
        row, plaintext = create_api_key(session, args.name, args.scopes)
        scopes = ", ".join(row.scopes)
    print(f"API key '{args.name}' ({scopes}) - store it now, it is not shown again:")
    print(plaintext)
    return 0


def _create_user(args: argparse.Namespace) -> int:
    import getpass

    from app.access.users import create_user
    from app.db import Database

    password = args.password or getpass.getpass("password: ")
    db = Database(get_settings())
    with db.transaction() as session:
        create_user(session, args.email, password, args.role)
    print(f"user {args.email} ({args.role}) created")
    return 0


def _rescore(_args: argparse.Namespace) -> int:
    from app import subscribers  # noqa: F401  (MQLs found by a re-score are handed off)
    from app.db import Database
    from app.scoring.jobs import run_rescore, start_rescore

    settings = get_settings()
    db = Database(settings)
    with db.transaction() as session:
        job_id = start_rescore(session).id

    def bar(done: int, total: int) -> None:
        filled = int(30 * done / total) if total else 30
        sys.stderr.write(f"\rre-scoring [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        sys.stderr.flush()

    job = run_rescore(db, settings, job_id, progress=bar)
    sys.stderr.write("\n")
    print(f"re-scored {job.done} leads with model version {job.model_version}")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.operations.backup import backup

    target = backup(get_settings().database_url, Path(args.output))
    print(f"backup written to {target}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.operations.backup import restore

    restore(get_settings().database_url, Path(args.input))
    print("database restored; run `leadnurture migrate` if the backup is older than this release")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from app.db import Database
    from app.demo import build_demo

    settings: Settings = get_settings()
    db = Database(settings)
    counts = build_demo(db, settings, leads=args.leads, seed=args.seed)
    print(", ".join(f"{name}: {count}" for name, count in counts.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadnurture", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        return sub

    serve = add("serve", _serve, "Serve HTTP and run the scheduler in-process.")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    add("worker", _worker, "Run the scheduler and dispatchers only (no HTTP).")
    add("migrate", _migrate, "Upgrade the database schema to the latest migration.")
    key = add("create-api-key", _create_api_key, "Create an API key and print it once.")
    key.add_argument("--name", required=True)
    key.add_argument("--scopes", nargs="+", default=["admin"])
    user = add("create-user", _create_user, "Create a web UI user.")
    user.add_argument("--email", required=True)
    user.add_argument("--role", choices=["admin", "marketer", "viewer"], default="marketer")
    user.add_argument("--password", help="prompted for when omitted")
    add("rescore", _rescore, "Re-score every lead with the active scoring model.")
    backup = add("backup", _backup, "Write a consistent backup of the database (safe while serving).")
    backup.add_argument("--output", required=True, help="file to write (SQLite file or pg_dump archive)")
    restore = add("restore", _restore, "Restore a backup over the database (stop the service first).")
    restore.add_argument("--input", required=True)
    demo = add("demo", _demo, "Fill the database with a realistic demo funnel.")
    demo.add_argument("--leads", type=int, default=3000)
    demo.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except Exception as exc:  # the domain errors carry a readable detail
        from app.errors import DomainError

        if not isinstance(exc, DomainError):
            raise
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
