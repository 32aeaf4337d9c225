"""One run of `verivote demo` shared by the tests that read what it did (a demo is the
suite's slowest step: two tests running one each took five minutes of its fifteen)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class DemoRun:
    folder: Path
    doc: dict[str, Any]


def demo_environment() -> dict[str, str]:
    """This interpreter's import path for a child `python -m verivote`."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`verivote demo --voters 200 --seed 1 --json` run once as a command of its own, every
    party a process; the tests only read its folder."""
    folder = tmp_path_factory.mktemp("shared") / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "verivote", "demo", "--voters", "200", "--seed", "1",
         "--dir", str(folder), "--json"],
        capture_output=True, text=True, env=demo_environment(), timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return DemoRun(folder, json.loads(done.stdout))
