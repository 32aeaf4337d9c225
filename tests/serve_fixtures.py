"""`verivote serve` of a test election in a process of its own, for tests that need a real
server (a device's uploads, a server killed with SIGKILL)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    db: str, election_id: str, directory: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The server's base URL and process, once it answers; terminated afterwards if alive."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "verivote", "serve", "--db", db, "--election", election_id,
         "--port", str(port), "--cast-workers", "1"],
        env={**os.environ, "PYTHONPATH": str(SRC)}, cwd=directory,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/api/turnout", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    assert process.stderr is not None
                    raise AssertionError(
                        f"verivote serve did not start: {process.stderr.read().decode()}"
                    ) from None
                time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(30)
