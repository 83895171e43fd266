"""Run the official Commerce Layer CLI (``@commercelayer/cli`` 6.9.7 and plugins) against Kassa.

The CLI and its plugins are the npm packages pinned in ``package.json``, run unchanged with
``node node_modules/@commercelayer/cli/bin/run.js``. Each :class:`OfficialCli` has its own
home directory, so logins never touch the user's real configuration:

* the plugins are "user plugins", listed in ``<home>/data/package.json`` and found through a
  ``node_modules`` symlink to this directory's install (what ``cl plugins:install`` would
  produce, without downloading anything);
* ``NODE_OPTIONS=--import cli_route.mjs`` routes the CLI's ``https://*.<domain>`` requests to
  the Kassa server over plain HTTP (see that file for why);
* ``NO_UPDATE_NOTIFIER`` keeps it from looking for a newer version.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
CLI_BIN = NODE_MODULES / "@commercelayer" / "cli" / "bin" / "run.js"
ROUTE_HOOK = HERE / "cli_route.mjs"
PLUGINS = ("resources", "orders", "checkout", "token", "webhooks")
TIMEOUT = 60
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CliResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        """stdout and stderr without colours (the CLI prints some messages on stderr)."""
        return ANSI.sub("", self.stdout + self.stderr)

    def json(self) -> Any:
        """The JSON document of a ``-j -u`` command: its first line starting with { or [."""
        for line in self.stdout.splitlines():
            if line.startswith(("{", "[")):
                return json.loads(line)
        raise AssertionError(f"no JSON line in the output of {self.argv}:\n{self.out}")


class OfficialCli:
    """One CLI installation state (a home directory) talking to one Kassa server."""

    def __init__(self, home: Path, base_url: str, domain: str) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node (>= 20) is not on PATH: the official CLI cannot run")
        if not CLI_BIN.exists() or not all(
            (NODE_MODULES / "@commercelayer" / f"cli-plugin-{p}").is_dir() for p in PLUGINS
        ):
            pytest.fail(f"{NODE_MODULES} lacks the CLI: run `make clients` (npm ci in {HERE})")
        self.node = node
        self.home = home
        self.domain = domain
        self.trace = home / "requests.log"
        data = home / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
        user_plugins = [{"name": f"@commercelayer/cli-plugin-{p}", "type": "user"} for p in PLUGINS]
        (data / "package.json").write_text(
            json.dumps({"private": True, "oclif": {"schema": 1, "plugins": user_plugins}})
        )
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "xdg-data"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "COMMERCELAYER_CONFIG_DIR": str(home / "config"),
            "COMMERCELAYER_DATA_DIR": str(data),
            "COMMERCELAYER_CACHE_DIR": str(home / "cache"),
            "NO_UPDATE_NOTIFIER": "1",
            "NODE_OPTIONS": f'--import "{ROUTE_HOOK}"',
            "KASSA_BASE_URL": base_url,
            "KASSA_DOMAIN": domain,
            "KASSA_CLI_TRACE": str(self.trace),
        }

    def __call__(self, *args: str, ok: bool = True) -> CliResult:
        """Run one command; with ``ok`` (the default) a non-zero exit fails the test."""
        argv = [self.node, str(CLI_BIN), *args]
        shown = "cl " + " ".join(args)
        try:
            done = subprocess.run(
                argv, cwd=self.home, env=self.env, capture_output=True, text=True, timeout=TIMEOUT
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{shown}` did not finish in {TIMEOUT}s\n{self.requests()[-5:]}")
        result = CliResult(argv, done.returncode, done.stdout, done.stderr)
        if ok and done.returncode != 0:
            pytest.fail(
                f"`{shown}` exited with {done.returncode}\n{result.out}\n"
                "--- last requests ---\n" + "\n".join(self.requests()[-5:])
            )
        return result

    def login(
        self, org_slug: str, client_id: str, alias: str, *extra: str, ok: bool = True
    ) -> CliResult:
        """``applications:login`` with the hidden ``--domain`` option Kassa needs."""
        return self(
            "applications:login",
            *("-o", org_slug, "-d", self.domain, "-i", client_id, "-a", alias),
            *extra,
            ok=ok,
        )

    def requests(self) -> list[str]:
        """The routed requests so far, ``METHOD original-url -> kassa-url status``."""
        return self.trace.read_text().splitlines() if self.trace.exists() else []
