"""``kassa serve | worker | migrate | init | demo | fake-gateway``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from kassa.settings import Settings

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def local_hosts(host: str, port: int) -> list[str]:
    """The ``Host`` values a local listener answers by default: loopback names, and the
    address it is bound to when that is a specific one."""
    names = [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
    if host not in LOOPBACK and host not in ("0.0.0.0", "::", ""):
        names.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return names


def _data_dir() -> Path:
    return Path(os.environ.get("KASSA_DATA_DIR", "var"))


def server_file() -> Path:
    """Where a running ``kassa serve`` leaves its URL, for ``kassa demo`` in another shell."""
    return _data_dir() / "server.json"


def running_server_url() -> str | None:
    """The URL of the ``kassa serve`` that wrote :func:`server_file`, if it still runs."""
    try:
        found = json.loads(server_file().read_text())
        os.kill(int(found["pid"]), 0)
        return str(found["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # only for display
        return "<unparsable URL>"


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if not settings.allowed_hosts and not settings.public_base_url:
        # Links are built from the Host header only when it is on this list (every worker
        # reads it from the environment).
        os.environ["KASSA_ALLOWED_HOSTS"] = ",".join(local_hosts(host, port))
        if host not in LOOPBACK:
            print(
                f"kassa: answering only {os.environ['KASSA_ALLOWED_HOSTS']}; set "
                "KASSA_PUBLIC_BASE_URL or KASSA_ALLOWED_HOSTS for the names clients use",
                file=sys.stderr,
            )
    if args.access_log:
        os.environ["KASSA_ACCESS_LOG"] = "1"  # read by every worker
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    url = (
        f"http://[{shown}]:{port}"
        if ":" in shown and "[" not in shown
        else f"http://{shown}:{port}"
    )
    if settings.log_format == "json":
        request_log = "standard output, one JSON object per request (KASSA_LOG_FORMAT=json)"
    elif args.access_log or settings.access_log:
        request_log = "standard output, one line per request"
    else:
        request_log = "off (turn on with --access-log, or KASSA_LOG_FORMAT=json for JSON lines)"
    creds = _data_dir() / "credentials.json"
    print(f"Kassa         {url}  ({workers} worker{'s' if workers != 1 else ''})", flush=True)
    print(f"Database      {_safe_url(settings.database_url)}")
    print(
        f"Credentials   {creds}"
        + ("" if creds.exists() else "  (missing: run `kassa init` to create them)")
    )
    print(f"Request log   {request_log}")
    print("Server log    standard error; stop with Ctrl-C", flush=True)
    marker: Path | None = server_file()
    try:
        server_file().parent.mkdir(parents=True, exist_ok=True)
        server_file().write_text(json.dumps({"url": url, "pid": os.getpid()}))
    except OSError:
        marker = None  # a read-only data directory: `kassa demo` then needs --base-url
    # uvicorn re-raises a SIGTERM it handled once it has shut down: exit cleanly on it, so
    # that the marker file goes away.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        uvicorn.run(
            "kassa.app:build_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            log_level=args.log_level,
            access_log=False,  # the request log is Kassa's own (kassa.request_log)
        )
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
    return 0


def _worker(settings: Settings) -> int:
    from kassa.checkout.recovery import recover_once
    from kassa.engine.context import Services
    from kassa.webhooks.standalone import run_worker
    from kassa.webhooks.worker import register

    async def recovery_scan(services: Services) -> None:
        await recover_once(services)

    # The same recovery scan `kassa serve` runs, so a box that only runs workers still
    # finishes the callouts a crashed API process left in flight.
    register(settings.recovery_interval_seconds, "callout recovery", recovery_scan)
    print(f"Kassa worker  {_safe_url(settings.database_url)}; stop with Ctrl-C", flush=True)
    return run_worker(settings)


def _database_problem(exc: BaseException, url: str) -> str:
    """What went wrong reaching the database, and the command that usually fixes it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    cause = " ".join(str(exc).split())[:300] or type(exc).__name__
    if parsed.get_backend_name() != "postgresql":
        return f"cannot use the database {_safe_url(url)}: {cause}"
    host, port, user = parsed.host or "127.0.0.1", parsed.port or 5432, parsed.username
    if "does not exist" in cause and parsed.database and f'"{parsed.database}"' in cause:
        return (
            f"the PostgreSQL database {parsed.database!r} does not exist on {host}:{port}; "
            f"create it with: createdb -h {host} -p {port} -U {user or 'postgres'} "
            f"{parsed.database}"
        )
    return (
        f"cannot connect to PostgreSQL at {host}:{port} ({cause}); is it running "
        "(Debian: apt-get install postgresql), and is KASSA_DATABASE_URL right?"
    )


def _migrate(settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from kassa.progress import Steps
    from kassa.store.migrate import pending_revisions, upgrade_to

    url = settings.database_url
    print(f"Migrating {_safe_url(url)}", flush=True)
    try:
        todo = pending_revisions(url)
        if not todo:
            print("Already up to date: no migration to apply.")
            return 0
        # One revision at a time, so a slow migration shows which one is running.
        steps = Steps(len(todo))
        for revision, message in todo:
            with steps.step(f"applying {revision}  {message}"):
                upgrade_to(url, revision)
    except (OSError, SQLAlchemyError) as exc:
        print(f"kassa migrate: {_database_problem(exc, url)}", file=sys.stderr)
        return 1
    count = f"{len(todo)} migration{'s' if len(todo) != 1 else ''}"
    print(f"Applied {count} in {steps.elapsed():.1f} s.")
    return 0


def _init(settings: Settings, args: argparse.Namespace) -> int:
    from kassa.bootstrap import credentials_file, init_organization, organization_exists

    reused = asyncio.run(organization_exists(settings, args.slug))
    creds = asyncio.run(
        init_organization(
            settings, args.slug, args.name, mode=args.mode, credentials_path=credentials_file()
        )
    )
    if args.json:
        print(json.dumps(creds))
        return 0
    base = f"http://{settings.host}:{settings.port}"
    print(
        f"Organization  {creds['organization_slug']} ({creds['organization_id']}) "
        f"{'reused (it already existed)' if reused else 'created'}, {args.mode} mode"
    )
    print(f"Integration   client_id     {creds['integration_client_id']}")
    print(f"              client_secret {creds['integration_client_secret']}")
    print(f"Sales channel client_id     {creds['sales_channel_client_id']}")
    print(f"Saved in      {credentials_file()}")
    print()
    print("Get an integration token:")
    print(
        f"  curl -s -X POST {base}/oauth/token -H 'Content-Type: application/json' "
        f'-d \'{{"grant_type":"client_credentials","client_id":"{creds["integration_client_id"]}",'
        f'"client_secret":"{creds["integration_client_secret"]}"}}\''
    )
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from kassa.demo import run_demo

    base_url = args.base_url
    if not base_url:
        explicit = os.environ.get("KASSA_PORT") or os.environ.get("KASSA_HOST")
        running = None if explicit else running_server_url()
        base_url = running or f"http://{settings.host}:{settings.port}"
        source = (
            f"the running `kassa serve` ({server_file()})"
            if running
            else "KASSA_HOST / KASSA_PORT"
            if explicit
            else "the default; pass --base-url for another server"
        )
        print(f"Server        {base_url}  (from {source})")
    return asyncio.run(run_demo(base_url))


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from kassa.bootstrap import credentials_file, init_organization
    from kassa.seed import SeedError, seed

    if args.orders < 1:
        print("kassa seed: --orders must be at least 1", file=sys.stderr)
        return 2
    creds = asyncio.run(
        init_organization(
            settings,
            args.slug,
            args.slug.replace("-", " ").title(),
            mode=args.mode,
            credentials_path=credentials_file() if args.slug == "demo-shop" else None,
        )
    )
    print(
        f"Seeding {args.orders:,} orders into {args.slug} ({args.mode} mode), "
        f"{_safe_url(settings.database_url)}",
        flush=True,
    )
    try:
        counts = asyncio.run(
            seed(settings, creds["organization_id"], args.mode, args.orders, args.seed)
        )
    except SeedError as exc:
        print(f"kassa seed: {exc}", file=sys.stderr)
        return 1
    for table, n in counts.items():
        print(f"  {table:<26} {n:>12,} rows")
    print(f"Integration   client_id     {creds['integration_client_id']}")
    print(f"              client_secret {creds['integration_client_secret']}")
    return 0


def _fake_gateway(args: argparse.Namespace) -> int:
    from kassa.fake_processor import main as processor_main

    return processor_main(["--host", args.host, "--port", str(args.port)])


def _openapi(settings: Settings, args: argparse.Namespace) -> int:
    from kassa.openapi import document

    text = json.dumps(document(settings.public_base_url), indent=2) + "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kassa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--log-level", default="info", help="server log level (default info)")
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="write one line per request to standard output (method, path, status, duration, "
        "request id); KASSA_LOG_FORMAT=json writes JSON lines instead",
    )
    sub.add_parser("worker", help="deliver webhook events (and other background jobs)")
    sub.add_parser("migrate", help="apply database migrations")
    init = sub.add_parser("init", help="create an organization and API credentials")
    init.add_argument("--slug", default="demo-shop")
    init.add_argument("--name", default="Demo Shop")
    init.add_argument("--json", action="store_true")
    init.add_argument("--mode", choices=("test", "live"), default="test")
    demo = sub.add_parser("demo", help="run the wallet story against a running server")
    demo.add_argument(
        "--base-url",
        help="the server (default: the running `kassa serve` of this KASSA_DATA_DIR, else "
        "http://KASSA_HOST:KASSA_PORT)",
    )
    seeder = sub.add_parser("seed", help="bulk-load a shop with years of orders (benchmarks)")
    seeder.add_argument("--orders", type=int, default=10_000, help="orders to load (10000)")
    seeder.add_argument("--slug", default="demo-shop", help="the organization (created if new)")
    seeder.add_argument("--mode", choices=("test", "live"), default="test")
    seeder.add_argument("--seed", type=int, default=1, help="random seed (same seed, same shop)")
    fake = sub.add_parser("fake-gateway", help="run the reference payment processor")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=9090)
    spec = sub.add_parser("openapi", help="write the OpenAPI 3.1 document of the API")
    spec.add_argument("-o", "--output", help="the file to write (default: standard output)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "worker":
        return _worker(settings)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "init":
        return _init(settings, args)
    if args.command == "demo":
        return _demo(settings, args)
    if args.command == "seed":
        return _seed(settings, args)
    if args.command == "fake-gateway":
        return _fake_gateway(args)
    if args.command == "openapi":
        return _openapi(settings, args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
