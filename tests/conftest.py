"""Shared test helpers. External test data is read in place from ../shared/testdata.

`../shared` is the folder beside the checkout; `VERIVOTE_SHARED` names another place, and a
checkout cloned elsewhere (CI's clean clone, say) falls back to /work/shared.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from verivote.model.ballots import Ballot


def _shared() -> Path:
    for place in (
        os.environ.get("VERIVOTE_SHARED"),
        Path(__file__).resolve().parents[2] / "shared",
        "/work/shared",
    ):
        if place and Path(place, "testdata").is_dir():
            return Path(place)
    return Path(__file__).resolve().parents[2] / "shared"


SHARED = _shared()

# The session-wide election records of the verifier's tests, shared with the tamper suite;
# the store tests' `url` (each backend) and `engine` (migrated), which a module may override.
pytest_plugins = ["tests.verify_fixtures", "tests.store_fixtures", "tests.demo_fixtures"]
RCTAB = SHARED / "testdata" / "rctab"


def ballots(*rows: tuple[int, str]) -> list[Ballot]:
    """Ballots written compactly: (count, "A B C") with names split on spaces; "" is blank."""
    return [Ballot(tuple(text.split()), count) for count, text in rows]


@pytest.fixture
def rctab_dir() -> Path:
    if not RCTAB.is_dir():
        pytest.fail(f"the RCTab test data is missing at {RCTAB}")
    return RCTAB
