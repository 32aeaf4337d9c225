"""Running the web application in several server processes (`verivote serve --workers N`).

uvicorn starts each worker process from an import string, so the configuration travels in the
environment: the database URL in VERIVOTE_DATABASE_URL and the election in
VERIVOTE_SERVE_ELECTION, both set by `verivote serve` after it has checked them.
"""

from __future__ import annotations

import os

from verivote.election.service import load_context
from verivote.store import Store, make_engine
from verivote.store.db import ENV_VAR
from verivote.web.checkin import CheckinFastPath, create_app

ELECTION_VAR = "VERIVOTE_SERVE_ELECTION"
FACTORY = "verivote.web.serving:app_from_environment"


def app_from_environment() -> CheckinFastPath:
    """The application of one worker process (uvicorn's factory)."""
    store = Store(make_engine(os.environ[ENV_VAR]))
    return create_app(store.engine, load_context(store, os.environ[ELECTION_VAR]).manifest)
