"""`make` rebuilds a venv whose Python is wrong, and the test setup explains its backends."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import ROOT

# A stand-in interpreter: `-m venv DIR` copies itself there, `-m pip` only records the call,
# anything else runs the real Python that runs these tests (>= 3.11).
GOOD = f"""#!/bin/bash
if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0; fi
if [ "$1" = -m ] && [ "$2" = pip ]; then echo "pip $*" >> "$PIP_LOG"; exit 0; fi
exec {sys.executable} "$@"
"""
# An interpreter that is too old.
OLD = """#!/bin/bash
if [ "$1" = --version ]; then echo "Python 3.10.12"; exit 0; fi
if [ "$1" = -c ]; then exit 1; fi
echo "old python: $*" >&2; exit 1
"""


def _tree(tmp_path: Path) -> Path:
    work = tmp_path / "clone"
    work.mkdir()
    shutil.copy(ROOT / "Makefile", work / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    for name, text in (("goodpy", GOOD), ("oldpy", OLD)):
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    return work


def _make(work: Path, python: Path, log: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "setup", f"PYTHON={python}"],
        cwd=work,
        env={**os.environ, "PIP_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_rebuilds_a_venv_made_by_an_old_python(tmp_path: Path) -> None:
    work = _tree(tmp_path)
    log = tmp_path / "pip.log"
    (work / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(tmp_path / "oldpy", work / ".venv" / "bin" / "python")
    first = _make(work, tmp_path / "goodpy", log)
    out = first.stdout + first.stderr
    assert first.returncode == 0, out
    assert "has no working Python >= 3.11 (Python 3.10.12): rebuilding it" in out
    assert "==> Creating the virtualenv .venv" in out
    assert "==> Installing Kassa and its development tools" in out
    assert "-e .[dev]" in log.read_text()
    stamps = list((work / ".venv").glob(".installed-*"))
    version = "py{}.{}.{}".format(*sys.version_info[:3])
    assert [s.name.rsplit("-", 1)[1] for s in stamps] == [version]
    # Up to date: nothing is installed again.
    again = _make(work, tmp_path / "goodpy", log)
    assert again.returncode == 0 and "Installing" not in again.stdout, again.stdout
    assert log.read_text().count("-e .[dev]") == 1


def test_make_refuses_a_python_older_than_3_11(tmp_path: Path) -> None:
    work = _tree(tmp_path)
    done = _make(work, tmp_path / "oldpy", tmp_path / "pip.log")
    assert done.returncode != 0
    assert "Kassa needs Python >= 3.11" in done.stdout and "Python 3.10.12" in done.stdout
    assert "apt-get install python3 python3-venv" in done.stdout
    assert not (work / ".venv").exists()


def test_test_setup_creates_a_missing_postgres_database() -> None:
    """What `make test` does when PostgreSQL answers but its test database is missing."""
    from tests.support import POSTGRES_URL, postgres_reachable

    if not postgres_reachable():
        pytest.skip("PostgreSQL is not running here")
    name = "kassa_missing_" + secrets.token_hex(4)
    url = POSTGRES_URL.rpartition("/")[0] + "/" + name
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "tests/unit/test_signature.py"],
            cwd=ROOT,
            env={
                **{k: v for k, v in os.environ.items() if k != "KASSA_TEST_BACKENDS"},
                "KASSA_TEST_POSTGRES_URL": url,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        header = next(
            (line for line in done.stdout.splitlines() if "kassa storage backends" in line), ""
        )
        assert header.startswith("kassa storage backends: sqlite, postgres"), done.stdout
        assert f"created the missing database '{name}'" in header
    finally:
        from tests.support import drop_postgres_database

        drop_postgres_database(url)
