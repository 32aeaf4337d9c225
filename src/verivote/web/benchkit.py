"""What the HTTP benchmarks (`verivote bench checkin`, `bench cast-api`) share: CPU time of
processes read from /proc (Linux), a free loopback port, waiting for a server to answer, and
reading a response's length on a hand-written HTTP/1.1 connection."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Any


def cpu_seconds(pid: int, children: bool = True) -> float:
    """CPU time (user + system) of a process and its living children, from /proc (Linux)."""
    return sum(process_cpu(p) for p in [pid, *(descendants(pid) if children else [])])


def process_cpu(pid: int) -> float:
    """CPU time (user + system) of one process, 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The process's living children, grandchildren and so on."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            direct = [int(c) for c in f.read().split()]
    except OSError:
        return []
    return direct + [g for c in direct for g in descendants(c)]


def postgres_cpu() -> float:
    """CPU time of every process of this machine named `postgres` (a local server's)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
        except OSError:
            continue
        total += process_cpu(int(entry))
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, tries: int = 150) -> None:
    """Return once `url` answers (any status), after at most `tries` × 0.2 s."""
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer at {url}")


def content_length(head: bytes) -> int:
    """The Content-Length of a response's head."""
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("no Content-Length in the response")


async def post_json(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str,
    token: str, body: bytes,
) -> dict[str, Any]:  # fmt: skip
    """One POST on a kept-alive connection, written by hand (an HTTP client library would
    cost the load generator more than the server it measures): the JSON answer, its `status`
    set to "http <code>" when it has none, or {"status": "error"} when the connection failed."""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        answer = json.loads(await reader.readexactly(content_length(head)))
    except (OSError, asyncio.IncompleteReadError, ValueError):
        return {"status": "error"}
    if not isinstance(answer, dict):
        return {"status": "error"}
    answer["status"] = str(answer.get("status") or f"http {head.split()[1].decode()}")
    return answer
