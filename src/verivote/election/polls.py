"""Opening and closing the polls at polling stations (issue 5, polling day).

Each change is a public board entry in the log of the station's district (issue 17), written in
one transaction with the station's new state (`Store.set_polls`):

    polls-open    {"type": "polls-open", "election": base hash, "station": id}
    polls-close   {"type": "polls-close", "election": base hash, "station": id,
                   "ballots_cast": n[, "checked_in": m]}

where n is the number of ballots cast at the station and m, when the election has a voter roll
(issue 7; `polling.roll` in its manifest, issue 15), the number of voters checked in there
(online or by an offline upload, which must come before the close), both read from the
station's counters inside that transaction, after its last batch went onto the board: the
verifier holds every station to n ≤ m, no more ballots than voters, and fails a station whose
statement lacks m in an election with a roll. Only the count is published, never who. Once a
station of an election has opened, ballots are cast only at open stations (the store's rule);
a closed station never opens again, and the tally waits until no station is open.
"""

from __future__ import annotations

from collections.abc import Sequence

from verivote.election.service import ElectionContext, ElectionError
from verivote.election.turnout import publish_checkins
from verivote.model.canonical import canonical_json
from verivote.store import Store, StoreError
from verivote.store.roll import has_roll


def _check_stations(ctx: ElectionContext, station_ids: Sequence[str]) -> list[str]:
    known = {s.id for s in ctx.manifest.stations}
    unknown = [s for s in station_ids if s not in known]
    if unknown:
        raise ElectionError(f"not a station of this election: {', '.join(unknown)}")
    if not station_ids:
        raise ElectionError("name at least one station")
    return list(dict.fromkeys(station_ids))


def _district(ctx: ElectionContext, station: str) -> str:
    """The log of the station's statements: its district's (README, "National scale")."""
    return next(s.district for s in ctx.manifest.stations if s.id == station)


def open_polls(store: Store, ctx: ElectionContext, station_ids: Sequence[str]) -> list[str]:
    """Open the polls at `station_ids`; returns those opened now (ones already open are left
    as they are, so a command cut short can be run again). A closed station is refused
    before anything is written."""
    stations = _check_stations(ctx, station_ids)
    if store.entries_of_type(ctx.election_id, "tally"):
        # A ballot cast after the tally would be outside it, which the verifier rejects.
        raise ElectionError("the tally is on the board: no polls open after it")
    states = store.polls(ctx.election_id)
    closed = [s for s in stations if states.get(s) == "closed"]
    if closed:
        raise ElectionError(f"the polls are closed for good at: {', '.join(closed)}")
    opened = []
    for station in stations:
        if states.get(station) == "open":
            continue
        entry = canonical_json(
            {"type": "polls-open", "election": ctx.base_hash.hex(), "station": station}
        )
        try:
            store.set_polls(ctx.election_id, station, "open", entry, log=_district(ctx, station))
        except StoreError as exc:  # changed by someone else meanwhile
            raise ElectionError(str(exc)) from None
        opened.append(station)
    return opened


def close_polls(store: Store, ctx: ElectionContext, station_ids: Sequence[str]) -> list[str]:
    """Close the polls at `station_ids`, publishing each one's count of cast ballots; returns
    those closed now (ones already closed are left as they are). A station that never opened
    is closed too, with the ballots it holds (normally none)."""
    stations = _check_stations(ctx, station_ids)
    states = store.polls(ctx.election_id)
    roll = ctx.manifest.polling.roll or has_roll(store.engine, ctx.election_id)
    closed = []
    for station in stations:
        if states.get(station) == "closed":
            continue

        def entry(ballots_cast: int, checked_in: int, station: str = station) -> bytes:
            doc: dict[str, object] = {
                "type": "polls-close",
                "election": ctx.base_hash.hex(),
                "station": station,
                "ballots_cast": ballots_cast,
            }
            if roll:
                doc["checked_in"] = checked_in
            return canonical_json(doc)

        try:
            store.set_polls(ctx.election_id, station, "closed", entry, log=_district(ctx, station))
        except StoreError as exc:
            raise ElectionError(str(exc)) from None
        # Once closed no check-in can arrive: the station's list is complete (issue 19).
        publish_checkins(store, ctx, station, _district(ctx, station))
        closed.append(station)
    return closed
