"""Check `participation`: every ballot was published while its station's polls were open, and
each station's closing statement publishes as many ballots as the board holds for it.

The closing count (`ballots_cast` of polls-close) is counted from the cast ballots, so fewer
ballots on the board than it says means ballots went missing. When the election has a voter
roll, the close also publishes how many voters were checked in at the station (`checked_in`):
a station's cast ballots may not outnumber its voters, and in an election whose manifest
declares its roll (`polling.roll`, issue 15) a closing statement without that count fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from verivote.verify.ballot_facts import entry_facts
from verivote.verify.context import Election
from verivote.verify.loader import Board
from verivote.verify.report import Check


def _polls(board: Board, stations: set[str], kind: str, check: Check) -> dict[str, int]:
    """Index of each station's polls-open or polls-close entry; repeats are failures."""
    out: dict[str, int] = {}
    for index, doc in board.of_type(kind):
        station = doc.get("station")
        if not isinstance(station, str) or station not in stations:
            check.fail(index, f"{kind} at {station!r}, not a station of the manifest")
        elif station in out:
            check.fail(index, f"{kind} at {station} a second time (first: entry {out[station]})")
        else:
            out[station] = index
    return out


@dataclass(frozen=True)
class Polls:
    """What a ballot's place is checked against: the manifest's stations, and the index of
    each one's (first valid) polls-open and polls-close entry."""

    stations: frozenset[str]
    opened: dict[str, int]
    closed: dict[str, int]


def polls_of(board: Board, election: Election, check: Check | None = None) -> Polls:
    """The record's `Polls`; its repeated and stray polls entries fail `check` (if given)."""
    stations = {s.id for s in election.manifest.stations}
    check = check or Check("participation")
    return Polls(
        frozenset(stations),
        _polls(board, stations, "polls-open", check),
        _polls(board, stations, "polls-close", check),
    )


def ballot_problem(polls: Polls, index: int, station: str | None) -> str | None:
    """Why the ballot entry `index` at `station` is out of place (not at a station of the
    manifest, before its polls opened, after they closed), or None."""
    if station is None or station not in polls.stations:
        return f"a ballot at {station!r}, not a station of the manifest"
    if station not in polls.opened or index < polls.opened[station]:
        return f"a ballot at {station} before its polls opened"
    closed = polls.closed.get(station)
    if closed is not None and index > closed:
        return f"a ballot at {station} after its polls closed (entry {closed})"
    return None


Placed = tuple[list[tuple[int, str]], Counter[str], Counter[str]]
"""The ballots out of place (index, `ballot_problem`), and the cast and the challenged ballots
of each station of the manifest, as the ballot chunks found them (`ballot_chunk`); the
challenged ones are what the `forms` check holds each station's result form to."""


def place_ballots(polls: Polls, found: Iterable[tuple[int, str | None, bool]]) -> Placed:
    """`Placed` of the ballot entries (index, station, whether cast)."""
    problems: list[tuple[int, str]] = []
    cast: Counter[str] = Counter()
    challenged: Counter[str] = Counter()
    for index, station, is_cast in found:
        problem = ballot_problem(polls, index, station)
        if station is not None and station in polls.stations:
            (cast if is_cast else challenged)[station] += 1
        if problem is not None:
            problems.append((index, problem))
    return problems, cast, challenged


def check_participation(board: Board, election: Election, placed: Placed | None = None) -> Check:
    """Per station of the manifest: polls open at most once and close at most once, after
    opening; every cast or challenged ballot comes after the polls-open and before the
    polls-close of its station; a station that opened was closed; the cast ballots on the
    board are exactly the closing count (more would be ballots without voters, fewer lost
    ballots); and, where published, no more than the voters checked in there.

    Each ballot's place is checked where it is parsed (`placed`, issue 17: by the tasks that
    parse the ballots, `place_ballots`); without it, the ballots are parsed here."""
    check = Check("participation", items=len(election.manifest.stations))
    polls = polls_of(board, election, check)
    opened, closed = polls.opened, polls.closed
    if placed is None:
        challenged = set(board.indices("ballot-challenged"))
        placed = place_ballots(
            polls,
            (
                (i, entry_facts(election.base_hash, doc).station, i not in challenged)
                for i, doc in board.ballots()
            ),
        )
    problems, cast, _ = placed
    for index, problem in sorted(problems):
        check.fail(index, problem)
    for station, index in sorted(opened.items(), key=lambda item: item[1]):
        if station not in closed:
            check.fail(index, f"the polls at {station} opened and never closed")
        elif closed[station] < index:
            check.fail(closed[station], f"the polls at {station} closed before they opened")
    for station, index in sorted(closed.items(), key=lambda item: item[1]):
        published = board.docs[index]
        assert published is not None
        count = published.get("ballots_cast")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            check.fail(index, f"{station}: ballots_cast {count!r} is not a count")
        elif cast[station] > count:
            check.fail(
                index,
                f"{station}: {cast[station]} ballots cast on the board, more than "
                f"the {count} published at the close",
            )
        elif cast[station] < count:
            check.fail(
                index,
                f"{station}: {count} ballots published at the close, only "
                f"{cast[station]} on the board: ballots are missing",
            )
        if "checked_in" not in published:
            if election.manifest.polling.roll:
                check.fail(
                    index,
                    f"{station}: the closing statement lacks checked_in, and the election "
                    "has a voter roll (polling.roll)",
                )
            continue
        voters = published["checked_in"]
        if isinstance(voters, bool) or not isinstance(voters, int) or voters < 0:
            check.fail(index, f"{station}: checked_in {voters!r} is not a count")
        elif cast[station] > voters:
            check.fail(
                index,
                f"{station}: {cast[station]} ballots cast, more than the {voters} voters "
                "checked in",
            )
    return check.close()
