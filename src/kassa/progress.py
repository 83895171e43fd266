"""Progress output for the long CLI commands (``kassa seed``, ``migrate``, ``demo``).

On a terminal, :class:`Progress` redraws one line in place; into a file or a pipe (CI logs,
tests) it writes a plain line at most every tenth of the work, so logs stay short.
:class:`Steps` numbers a known sequence of steps, ``[3/7]``, and times each one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

BAR_WIDTH = 30


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[#########.....]``-style bar for ``done`` of ``total``."""
    share = min(done / total, 1.0) if total > 0 else 1.0
    filled = int(share * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


class Progress:
    """A progress bar for ``total`` units of work, on standard error by default."""

    def __init__(self, total: int, label: str, out: TextIO | None = None) -> None:
        self.total, self.label = max(total, 1), label
        self.out = out if out is not None else sys.stderr
        self.live = self.out.isatty()
        self.started = time.monotonic()
        self.done = 0
        self._shown_tenth = -1

    def advance(self, n: int) -> None:
        self.done += n
        share = min(self.done / self.total, 1.0)
        if not self.live:
            tenth = int(share * 10)
            if tenth == self._shown_tenth:
                return
            self._shown_tenth = tenth
        elapsed = max(time.monotonic() - self.started, 1e-6)
        line = (
            f"{self.label} {bar(self.done, self.total)} {share:4.0%} "
            f"{self.done:,}/{self.total:,}  {self.done / elapsed:,.0f}/s"
        )
        self.out.write(f"\r{line} " if self.live else f"{line}\n")
        self.out.flush()

    def finish(self) -> float:
        """End the bar; returns the seconds it took."""
        if self.live:
            self.out.write("\n")
            self.out.flush()
        return time.monotonic() - self.started


class Steps:
    """Numbered steps of a known count: ``[2/7] title ... done in 0.4 s``."""

    def __init__(self, total: int, out: TextIO | None = None) -> None:
        self.total = total
        self.out = out if out is not None else sys.stdout
        self.number = 0
        self.started = time.monotonic()

    def label(self) -> str:
        width = len(str(self.total))
        return f"[{self.number:>{width}}/{self.total}]"

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Print ``[n/total] title``, run the block, then how long it took."""
        self.number += 1
        self.out.write(f"  {self.label()} {title} ...")
        self.out.flush()
        began = time.monotonic()
        try:
            yield
        except BaseException:
            self.out.write(" failed\n")
            self.out.flush()
            raise
        self.out.write(f" done in {time.monotonic() - began:.1f} s\n")
        self.out.flush()

    def elapsed(self) -> float:
        return time.monotonic() - self.started
