"""Running the web application in several server processes (`verivote serve --workers N`).

uvicorn starts each worker process from an import string, so the configuration travels in the
environment, set by `verivote serve` after it has checked it:

    VERIVOTE_SERVE_RECORD     the record directory (record mode), or else
    VERIVOTE_DATABASE_URL     the database and
    VERIVOTE_SERVE_ELECTION   the election (live mode), with
    VERIVOTE_SERVE_KEYS       the election's keys folder, for its public verifier keys (optional)
    VERIVOTE_SERVE_SECRET     the console's session secret, hex: the same in every worker, so
                              that a session made by one is good in all

Every worker builds the same application as a single-process server (`verivote.web.app`).

`in_thread` serves an application from a thread of the calling process instead, on a free
loopback port: the authority's server in `verivote demo` and in the tests.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from verivote.election.service import load_context
from verivote.store import Store, make_engine
from verivote.store.db import ENV_VAR
from verivote.web.app import live_app, read_verifiers, record_app

ELECTION_VAR = "VERIVOTE_SERVE_ELECTION"
RECORD_VAR = "VERIVOTE_SERVE_RECORD"
KEYS_VAR = "VERIVOTE_SERVE_KEYS"
SECRET_VAR = "VERIVOTE_SERVE_SECRET"
FACTORY = "verivote.web.serving:app_from_environment"


def app_from_environment() -> ASGIApp:
    """The application of one worker process (uvicorn's factory)."""
    record = os.environ.get(RECORD_VAR)
    if record:
        return record_app(Path(record))
    store = Store(make_engine(os.environ[ENV_VAR]))
    ctx = load_context(store, os.environ[ELECTION_VAR])
    keys = os.environ.get(KEYS_VAR)
    verifiers = read_verifiers(Path(keys), ctx.election_id) if keys else ()
    secret = bytes.fromhex(os.environ[SECRET_VAR]) if os.environ.get(SECRET_VAR) else None
    return live_app(store, ctx, verifiers, secret)


@contextmanager
def in_thread(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """`app` under uvicorn in a thread, on a free port of `host`; yields its base URL and
    stops the server on leaving."""
    sock = socket.socket()
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {host}:{port} did not start")
            time.sleep(0.02)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
