"""A sampling profile of the server under load (py-spy), summarised as text.

``start`` attaches ``py-spy record`` to the server's process (and its workers) for a number
of seconds and writes collapsed stacks; ``summary`` reads them back and answers where the
samples are: per thread kind, per package along the stack (inclusive), and the functions
that were on top of the stack (self time).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# (label, substring of a frame's file path or name) for the inclusive package breakdown;
# a sample counts once per label whose substring appears anywhere on its stack.
PACKAGES = [
    ("aiosqlite connection threads", "aiosqlite/core.py"),
    ("asyncpg", "asyncpg/"),
    ("SQLAlchemy (all)", "sqlalchemy/"),
    ("SQLAlchemy statement compilation", "sqlalchemy/sql/compiler.py"),
    ("SQLAlchemy result rows", "sqlalchemy/engine/result.py"),
    ("uvicorn / httptools protocol", "uvicorn/"),
    ("Starlette", "starlette/"),
    ("Kassa (kassa/)", "/kassa/"),
    ("Kassa serializer (engine/documents.py)", "kassa/engine/documents.py"),
    ("Kassa handlers (engine/handlers.py)", "kassa/engine/handlers.py"),
    ("orjson", "orjson"),
    ("JWT verify (jwt/)", "jwt/"),
    ("httpx (gateway callouts)", "httpx/"),
    ("argon2", "argon2"),
    ("asyncio event loop (base_events / uvloop)", "asyncio/"),
]


# Frames on top of the stack of a thread that is waiting, not working (py-spy counts some of
# them as busy): thread pools' idle workers, the supervisor of the uvicorn workers.
WAITING = (
    "_worker (concurrent/futures/thread.py",
    "Connection._recv (multiprocessing/connection.py",
    "Condition.wait (threading.py",
    "main (multiprocessing/resource_tracker.py",
    "spawn_main(",
    "Event.wait (threading.py",
    "select (selectors.py",
)


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def start(pid: int, out: Path, seconds: float, rate: int = 250) -> subprocess.Popen[bytes]:
    """``py-spy record`` of ``pid`` and its subprocesses, collapsed stacks with thread ids."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    cmd = [exe, "record", "--pid", str(pid), "--subprocesses", "--threads"]
    cmd += ["--rate", str(rate), "--duration", str(max(1, round(seconds)))]
    cmd += ["--format", "raw", "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stacks(raw: Path) -> list[tuple[list[str], int]]:
    out = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


def _short(frame: str) -> str:
    """``function (path/to/file.py:line)`` -> ``function (pkg/file.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "src/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


def _thread_kind(frames: list[str], joined: str) -> str:
    if "aiosqlite/core.py" in joined:
        return "aiosqlite connection threads"
    name = next((f.split("): ", 1)[-1] for f in frames if f.startswith("thread (")), "")
    if name.startswith("MainThread") or "asyncio/runners.py" in joined:
        return "event loop (MainThread)"
    return f"other threads ({name.split(' ')[0].rstrip('_0123456789') or '?'})"


def summary(raw: Path, title: str, top: int = 25) -> str:
    """A Markdown summary of a collapsed-stack file written by :func:`start`."""
    everything = _stacks(raw)
    stacks = [(f, n) for f, n in everything if not any(w in f[-1] for w in WAITING)]
    waiting = sum(n for _, n in everything) - sum(n for _, n in stacks)
    total = sum(n for _, n in stacks) or 1
    threads: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, n in stacks:
        joined = ";".join(frames)
        threads[_thread_kind(frames, joined)] += n
        for label, marker in PACKAGES:
            if marker in joined:
                packages[label] += n
        leaf = next((f for f in reversed(frames) if not f.startswith(("process ", "thread "))), "")
        leaves[_short(leaf)] += n
    lines = [
        f"### {title}",
        "",
        f"{total} busy samples ({waiting} in waiting threads left out).",
        "",
    ]
    lines += ["| thread | share |", "| --- | ---: |"]
    lines += [f"| {k} | {v / total:.0%} |" for k, v in threads.most_common()]
    lines += ["", "| on the stack (inclusive) | share |", "| --- | ---: |"]
    lines += [f"| {k} | {v / total:.0%} |" for k, v in packages.most_common()]
    lines += ["", f"| top {top} functions on top of the stack (self) | share |", "| --- | ---: |"]
    lines += [f"| `{k}` | {v / total:.1%} |" for k, v in leaves.most_common(top)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python bench/profile.py RAW_FILE [TITLE]
    print(summary(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else sys.argv[1]))
