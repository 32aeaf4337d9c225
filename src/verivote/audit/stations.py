"""What each polling station's signed result form says, as the audit and the forensics read it
(issue 18). `verivote.polling.forms` makes and checks the forms; this is the plain data the
statistics take, so the audit package needs no board or store to be tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class StationCount:
    """One station's result form: its district, the voters on its list (`registered`; None
    where the law keeps no list per station), the voters it checked in, the ballots in its
    box, and each candidate's votes (candidate code -> count) on its paper ballots."""

    station: str
    district: str
    registered: int | None
    checked_in: int
    ballots: int
    votes: Mapping[str, int]

    def turnout(self) -> float | None:
        """Ballots over the voters on the list, when the station has a list."""
        if not self.registered:
            return None
        return self.ballots / self.registered
