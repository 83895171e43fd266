"""``kassa serve | migrate | init | demo | fake-gateway``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from kassa.settings import Settings


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    uvicorn.run(
        "kassa.app:build_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=args.log_level,
        access_log=args.access_log,
    )
    return 0


def _migrate(settings: Settings) -> int:
    from kassa.store.migrate import upgrade

    upgrade(settings.database_url)
    return 0


def _init(settings: Settings, args: argparse.Namespace) -> int:
    from kassa.bootstrap import credentials_file, init_organization

    creds = asyncio.run(
        init_organization(
            settings, args.slug, args.name, mode=args.mode, credentials_path=credentials_file()
        )
    )
    if args.json:
        print(json.dumps(creds))
        return 0
    base = f"http://{settings.host}:{settings.port}"
    print(f"Organization  {creds['organization_slug']} ({creds['organization_id']}), test mode")
    print(f"Integration   client_id     {creds['integration_client_id']}")
    print(f"              client_secret {creds['integration_client_secret']}")
    print(f"Sales channel client_id     {creds['sales_channel_client_id']}")
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

    return asyncio.run(run_demo(args.base_url or f"http://{settings.host}:{settings.port}"))


def _fake_gateway(args: argparse.Namespace) -> int:
    from kassa.fake_processor import main as processor_main

    return processor_main(["--host", args.host, "--port", str(args.port)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kassa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--access-log", action="store_true")
    sub.add_parser("migrate", help="apply database migrations")
    init = sub.add_parser("init", help="create an organization and API credentials")
    init.add_argument("--slug", default="demo-shop")
    init.add_argument("--name", default="Demo Shop")
    init.add_argument("--json", action="store_true")
    init.add_argument("--mode", choices=("test", "live"), default="test")
    demo = sub.add_parser("demo", help="run the wallet story against a running server")
    demo.add_argument("--base-url")
    fake = sub.add_parser("fake-gateway", help="run the reference payment processor")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=9090)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "init":
        return _init(settings, args)
    if args.command == "demo":
        return _demo(settings, args)
    if args.command == "fake-gateway":
        return _fake_gateway(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
