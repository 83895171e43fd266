"""The import contract (`.importlinter`, run by `make lint`) holds, and it can fail.

Each case runs ``lint-imports`` on a copy of ``src/kassa`` in a temporary directory, put
first on ``PYTHONPATH``, so the real tree is never touched: unchanged, the copy passes;
with one new upward import, or a new top-level package the contract does not place, it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(CONFIG)],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "src" / "kassa",
        tmp_path / "kassa",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return tmp_path


def append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_keeps_the_contract(copy: Path) -> None:
    result = lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "message"),
    [
        # storage importing the API layer
        ("store/db.py", "import kassa.engine.handlers  # noqa", "kassa.store is not allowed"),
        # a domain package importing the HTTP app
        ("payments/__init__.py", "from kassa import app  # noqa", "kassa.payments is not allowed"),
        # a foundation module importing storage
        ("money.py", "import kassa.store.db  # noqa", "kassa.money is not allowed"),
        # a cycle between two independent siblings of one layer
        ("ids.py", "import kassa.money  # noqa", "kassa.ids is not allowed"),
    ],
)
def test_a_new_upward_import_breaks_the_contract(
    copy: Path, module: str, statement: str, message: str
) -> None:
    append(copy / "kassa" / module, statement)
    result = lint(copy)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout
    assert message in result.stdout


def test_a_new_package_must_be_placed_in_the_layers(copy: Path) -> None:
    package = copy / "kassa" / "unplaced"
    package.mkdir()
    (package / "__init__.py").write_text('"""Not in the contract yet."""\n')
    result = lint(copy)
    assert result.returncode != 0, result.stdout
    assert "kassa.unplaced" in result.stdout + result.stderr
