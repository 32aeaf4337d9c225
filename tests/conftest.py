"""Shared test helpers. External test data is read in place from ../shared/testdata."""

from __future__ import annotations

from pathlib import Path

import pytest

from verivote.model.ballots import Ballot

SHARED = Path(__file__).resolve().parents[2] / "shared"
RCTAB = SHARED / "testdata" / "rctab"


def ballots(*rows: tuple[int, str]) -> list[Ballot]:
    """Ballots written compactly: (count, "A B C") with names split on spaces; "" is blank."""
    return [Ballot(tuple(text.split()), count) for count, text in rows]


@pytest.fixture
def rctab_dir() -> Path:
    if not RCTAB.is_dir():
        pytest.fail(f"the RCTab test data is missing at {RCTAB}")
    return RCTAB
