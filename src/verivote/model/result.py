"""The result of a count: every round, every lot, and the elected (issue 2, `--json` format).

Counting functions return a `Result`; `Result.to_json_dict()` gives the public JSON form:
`{"method", "seats", "elected", "rounds", "void", "valid", "runoff", "lots"}`. Tallies of
fractional methods (STV) are written as decimal strings with 4 places, all others as integers.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Votes = Decimal
"""Votes are exact decimals: whole numbers for most methods, d decimal places for STV."""

JSON_PLACES = Decimal("0.0001")


class Lot(BaseModel):
    """One drawing of lots that broke a tie, with everything needed to re-run it.

    `order` is the tied candidates in draw order: the first is favoured (elected, or kept
    when someone must be eliminated). `digests` maps each candidate to the hex SHA-256 that
    placed it (see `verivote.rules.lot`).
    """

    model_config = ConfigDict(frozen=True)

    contest: str
    seed: str
    purpose: str
    round: int
    tied: list[str]
    order: list[str]
    digests: dict[str, str]


class Round(BaseModel):
    """One round of a count: the tally, then the decisions taken on it.

    `transfers` maps a candidate whose ballots moved *into* this round's tally (elected with a
    surplus, or eliminated in the round before) to the votes each candidate received from it;
    `exhausted` is the vote of ballots exhausted so far.
    """

    model_config = ConfigDict(populate_by_name=True)

    round: int
    tally: dict[str, Votes]
    elected: list[str] = Field(default_factory=list)
    eliminated: list[str] = Field(default_factory=list)
    threshold: Votes | None = None
    exhausted: Votes = Decimal(0)
    transfers: dict[str, dict[str, Votes]] = Field(default_factory=dict)
    pass_number: int | None = Field(default=None, alias="pass")


class Result(BaseModel):
    """A complete count. `void` and `valid` count ballots; `runoff` is the round-2 field."""

    method: str
    seats: int
    elected: list[str]
    rounds: list[Round]
    valid: int
    void: int = 0
    runoff: list[str] | None = None
    lots: list[Lot] = Field(default_factory=list)
    seats_won: dict[str, int] | None = None
    fractional: bool = False

    def to_json_dict(self) -> dict[str, Any]:
        """The public JSON form of issue 2; numbers as described in the module docstring."""

        def num(v: Decimal) -> int | str:
            if self.fractional:
                return str(v.quantize(JSON_PLACES, rounding=ROUND_DOWN))
            if v != v.to_integral_value():
                return str(v.quantize(JSON_PLACES, rounding=ROUND_DOWN))
            return int(v)

        rounds: list[dict[str, Any]] = []
        for r in self.rounds:
            out: dict[str, Any] = {
                "round": r.round,
                "tally": {k: num(v) for k, v in r.tally.items()},
                "elected": list(r.elected),
                "eliminated": list(r.eliminated),
            }
            if r.pass_number is not None:
                out["pass"] = r.pass_number
            if r.threshold is not None:
                out["threshold"] = num(r.threshold)
            if r.exhausted:
                out["exhausted"] = num(r.exhausted)
            if r.transfers:
                out["transfers"] = {
                    src: {dst: num(v) for dst, v in moved.items()}
                    for src, moved in r.transfers.items()
                }
            rounds.append(out)
        doc: dict[str, Any] = {
            "method": self.method,
            "seats": self.seats,
            "elected": list(self.elected),
            "rounds": rounds,
            "void": self.void,
            "valid": self.valid,
        }
        if self.runoff is not None:
            doc["runoff"] = list(self.runoff)
        if self.seats_won is not None:
            doc["seats_won"] = dict(self.seats_won)
        doc["lots"] = [lot.model_dump() for lot in self.lots]
        return doc
