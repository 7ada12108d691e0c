"""Command line: ``newsbot run | preview | check-config | feeds | doctor``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.clock import Clock, SystemClock
from bot.errors import ConfigError, NewsbotError, StorageError
from bot.logs import redact, register_secret, setup_logging
from bot.roles import ROLES
from bot.settings import Settings, load_settings, token_problem
from bot.stopping import StopSignals
from bot.storage.opening import (
    database_password,
    describe_location,
    is_database_url,
    masked,
    open_location,
)

EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"newsbot: {message}", file=sys.stderr)
    return EXIT_USAGE


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate the config and say so."""
    settings = _settings(args)
    print(f"{settings.config_path}: ok ({len(settings.feeds)} feeds, "
          f"{len(settings.topics)} topics)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the bot until SIGTERM/SIGINT."""
    settings = _settings(args)
    problem = token_problem(settings.token)
    if problem:
        return _fail(problem)
    if args.role != "all" and settings.storage.url is None:
        return _fail(f"--role {args.role}: roles divide one bot's work between processes on "
                     "one database; set NEWSBOT_DATABASE_URL (a data folder has one process, "
                     "which does everything)")
    return serve(settings, SystemClock(), role=args.role)


STOP_DEADLINE = 9.5  # seconds from SIGTERM to exit, whatever is still running


def serve(settings: Settings, clock: Clock, role: str = "all") -> int:
    """Run the bot on ``clock`` until SIGTERM/SIGINT (the soak passes a simulated clock)."""
    # First of all, before any thread starts: the signals are then a thread's to wait for.
    stops = StopSignals(STOP_DEADLINE)
    stops.install()
    if settings.token is not None:
        register_secret(settings.token.reveal(), "<token>")
    if settings.storage.url is not None:
        register_secret(database_password(settings.storage.url.reveal()), "***")
    setup_logging(settings.log_level, settings.log_format)
    from telegram.error import InvalidToken, TelegramError  # noqa: PLC0415 - slow import

    from bot.app import NewsbotApp  # noqa: PLC0415 - slow import, only for run

    if stops.requested:
        return 0
    try:
        app = NewsbotApp(settings, clock, role=role)
    except StorageError as exc:
        return _fail(str(exc))
    try:
        asyncio.run(app.run(stops))
    except InvalidToken:
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized); get a valid "
                     "token from @BotFather")
    except TelegramError as exc:
        # After the retries of start-up: no connection, or answers that are not the Bot API's.
        problem = str(exc)  # a third-party message may quote the request URL: redacted
        print(f"newsbot: can't reach the Bot API at {settings.api_url}: {redact(problem)}",
              file=sys.stderr)
        return 1
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    """One ingest pass, printed; nothing stored unless --store."""
    settings = _settings(args)
    setup_logging("WARNING" if settings.log_level == "INFO" else settings.log_level,
                  settings.log_format)
    from bot.preview import run_preview  # noqa: PLC0415

    if args.topic and args.topic not in {t.id for t in settings.topics}:
        known = ", ".join(t.id for t in settings.topics) or "none"
        return _fail(f"unknown topic {args.topic!r} (configured: {known})")
    if args.limit is not None and args.limit < 0:
        return _fail("--limit must be >= 0")
    return asyncio.run(run_preview(settings, SystemClock(), topic=args.topic,
                                   limit=args.limit, as_json=args.json, store=args.store))


def cmd_feeds(args: argparse.Namespace) -> int:
    """Import or export feeds as OPML."""
    from bot.opml import export_opml, import_opml  # noqa: PLC0415

    if args.feeds_command == "import":
        settings = _settings(args)
        opml = Path(args.file)
        if not opml.is_file():
            return _fail(f"{opml}: OPML file not found")
        from bot.feeds.fetch import private_host_problem  # noqa: PLC0415

        result = import_opml(
            settings.config_path, opml, allow_private=args.allow_private,
            host_problem=lambda url: asyncio.run(private_host_problem(url)))
        load_settings(settings.config_path)  # the result must still validate
        for line in result.refused:
            print(f"refused: {line} (not a public host; use --allow-private if you "
                  "trust this file)", file=sys.stderr)
        print(f"{settings.config_path}: added {result.added} feeds, skipped "
              f"{result.skipped} (already present or not http(s))"
              + (f", refused {len(result.refused)}" if result.refused else ""))
        return 0
    settings = _settings(args)
    sys.stdout.write(export_opml(settings, SystemClock().now()))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check (and optionally repair) the data files."""
    from bot.doctor import run_doctor  # noqa: PLC0415

    settings = _settings(args)
    if settings.storage.url is not None:
        from bot.storage.postgres import SCHEMA_VERSION, PostgresStore  # noqa: PLC0415

        url = settings.storage.url.reveal()
        register_secret(database_password(url), "***")
        # Not exclusive: the doctor may look at a database a running bot is using.
        store = PostgresStore(url, lock="none")
        try:
            version = store.schema_version()
            articles = store.article_count()
        finally:
            store.close()
        if version != SCHEMA_VERSION:
            return _fail(f"{masked(url)}: schema {version}, this newsbot has {SCHEMA_VERSION}")
        print(f"{masked(url)}: ok (schema {version}, {articles} articles)")
        return 0
    report = run_doctor(settings.storage.dir, repair=args.repair)
    for line in report.repaired:
        print(f"repaired: {line}")
    for line in report.warnings:
        print(f"warning: {line}", file=sys.stderr)
    remaining = report.problems if not args.repair else [
        p for p in report.problems if not any(p.split(":")[0] in r for r in report.repaired)]
    for line in remaining:
        print(f"problem: {line}", file=sys.stderr)
    if remaining:
        return EXIT_USAGE
    print(f"{settings.storage.dir}: ok ({report.files} data files)")
    return 0


def cmd_copy_data(args: argparse.Namespace) -> int:
    """Copy every record from the configured store (or --from) into an empty --to."""
    from bot.storage.copying import copy_all  # noqa: PLC0415

    settings = _settings(args)
    source_spec = args.source or (settings.storage.url.reveal() if settings.storage.url
                                  else str(settings.storage.dir))
    for spec in (source_spec, args.to):
        register_secret(database_password(spec), "***")
    source_name, target_name = describe_location(source_spec), describe_location(args.to)
    if source_spec.rstrip("/") == args.to.rstrip("/"):
        return _fail(f"{target_name}: the target is the source")
    if not is_database_url(source_spec) and not Path(source_spec).is_dir():
        return _fail(f"{source_name}: data folder not found")
    source = open_location(source_spec, sole=True)
    try:
        target = open_location(args.to, sole=True)
        try:
            counts = copy_all(source, target, target_name)
        finally:
            target.close()
    finally:
        source.close()
    print(f"copied {counts.chats} chats, {counts.feeds} feeds, {counts.articles} articles, "
          f"{counts.deliveries} deliveries and {counts.votes} votes from {source_name} to "
          f"{target_name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Telegram news briefings: topics, summaries, votes, digests.")
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", metavar="PATH",
                       help="config file (default: $NEWSBOT_CONFIG or config/newsbot.toml)")
        return p

    run = with_config(sub.add_parser("run", help="run the bot"))
    run.add_argument("--role", choices=ROLES, default="all",
                     help="with PostgreSQL: 'ingest' only polls feeds and stores articles, "
                          "'bot' only handles updates and sends; 'all' (default) does both")
    run.set_defaults(func=cmd_run)
    preview = with_config(sub.add_parser("preview", help="one ingest pass, printed"))
    preview.add_argument("--topic", metavar="ID", help="only articles of this topic")
    preview.add_argument("--limit", type=int, metavar="N", help="at most N articles")
    preview.add_argument("--json", action="store_true", help="one JSON object per line")
    preview.add_argument("--store", action="store_true", help="also store the articles")
    preview.set_defaults(func=cmd_preview)
    check = with_config(sub.add_parser("check-config", help="validate the config"))
    check.set_defaults(func=cmd_check_config)
    feeds = sub.add_parser("feeds", help="import or export feeds as OPML")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    imp = with_config(feeds_sub.add_parser("import", help="add the feeds of an OPML file"))
    imp.add_argument("file", metavar="FILE.opml")
    imp.add_argument("--allow-private", action="store_true",
                     help="also add feeds on private, loopback or link-local hosts "
                          "(refused by default: an OPML file is someone else's input)")
    with_config(feeds_sub.add_parser("export", help="print the feeds as OPML 2.0"))
    feeds.set_defaults(func=cmd_feeds)
    copy = with_config(sub.add_parser(
        "copy-data", help="copy every record into another (empty) data folder or database"))
    copy.add_argument("--to", required=True, metavar="TARGET",
                      help="a data folder path or a postgresql:// URL; must be empty")
    copy.add_argument("--from", dest="source", metavar="SOURCE",
                      help="copy from here instead of the configured storage")
    copy.set_defaults(func=cmd_copy_data)
    doctor = with_config(sub.add_parser("doctor", help="check the data files"))
    doctor.add_argument("--repair", action="store_true",
                        help="restore broken files from the previous generation")
    doctor.set_defaults(func=cmd_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``newsbot`` command."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except NewsbotError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
