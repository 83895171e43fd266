"""Pre-started ``commercelayer`` 3.0.4 flow processes for the official-client tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PY_CLIENT = HERE / ".venv" / "bin" / "python"
FLOW_TIMEOUT = 180


class PythonClientPool:
    """Pre-started ``python_seed_flow.py --env-stdin`` processes, one per test that needs one.

    Importing the PyPI package builds about 11,000 generated attrs classes, which takes
    10-20 s; each process does that in the background while other tests run, then receives
    its settings on stdin once its test has a server ready.
    """

    def __init__(self, count: int) -> None:
        # One process warms up at a time, so they do not all compete for the CPU at once.
        self.pending = count
        self.waiting: subprocess.Popen[str] | None = None
        self._warm_next()

    def _warm_next(self) -> None:
        if self.pending > 0 and self.waiting is None and PY_CLIENT.exists():
            self.pending -= 1
            self.waiting = self._spawn()

    @staticmethod
    def _spawn() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(PY_CLIENT), "python_seed_flow.py", "--env-stdin"],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        if not PY_CLIENT.exists():
            pytest.fail(f"{PY_CLIENT} is missing: run `make clients` (commercelayer==3.0.4 venv)")
        proc, self.waiting = self.waiting or self._spawn(), None
        self._warm_next()
        try:
            out, err = proc.communicate(json.dumps(env) + "\n", timeout=FLOW_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"python_seed_flow.py did not finish in {FLOW_TIMEOUT}s\n{out}\n{err}")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def close(self) -> None:
        if self.waiting is not None:
            self.waiting.kill()
            self.waiting.communicate()
