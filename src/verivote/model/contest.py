"""The contest file `contest.json`: method, seats, candidates and counting options.

The format is the one of the RCTab regression cases (`testdata/rctab/README.md`, "contest.json"):

    {"name": ..., "method": ..., "seats": N, "candidates": [...], "options": {...}}

Other counting methods read the same file, so this model checks only what every method shares:
the shape and the types. The meaning of an option (a quota name, an RCTab tie-break mode) is
checked by the method that uses it, for example `verivote.rules.rcv.rcv_options_from_contest`.
Unknown keys (`notes`, `source`, `options.rctab_config`, ...) are accepted and ignored.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ContestOptions(BaseModel):
    """Counting options; each default is RCTab's default for the same setting.

    `threshold` is a quota name for ranked methods (`droop`, `hare`, ...) but a fraction such as
    `"1/5"` or `0.2` for `majlis`, hence the loose type.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    winner_election_mode: str | None = None
    overvote: Literal["exhaust", "skip", "exhaust_if_multiple_continuing"] = "exhaust"
    max_skipped_ranks: int | None = Field(default=None, ge=0)
    max_rankings: int | None = Field(default=None, ge=1)
    duplicate_rankings: Literal["skip", "exhaust"] = "skip"
    batch_elimination: bool = False
    continue_until_two: bool = False
    threshold: str | float | None = "droop"
    first_round_determines_threshold: bool = False
    decimal_places: int = Field(default=4, ge=0)
    tiebreak: str = "random"
    tiebreak_order: list[str] | None = None
    excluded: list[str] = Field(default_factory=list)
    undeclared_write_in: str | None = None
    stop_after_round: int | None = Field(default=None, ge=1)
    cutoff_elimination: bool = False
    bottoms_up_percentage: Decimal | None = None


class Contest(BaseModel):
    """One contest: what is counted and how."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    method: str
    seats: int = Field(ge=0)
    candidates: list[str]
    options: ContestOptions = Field(default_factory=ContestOptions)

    @field_validator("candidates")
    @classmethod
    def _distinct_names(cls, names: list[str]) -> list[str]:
        # A repeated name would make two tally lines for one person.
        seen: set[str] = set()
        for name in names:
            if not name.strip():
                raise ValueError("a candidate name is empty")
            if name in seen:
                raise ValueError(f"candidate {name!r} is listed twice")
            seen.add(name)
        return names


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def load_contest(path: Path) -> Contest:
    """Read and validate a contest file; any problem is a `ValueError` with a one-line message."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"contest file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read contest file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"contest file {path} is not valid JSON: {exc.msg} (line {exc.lineno}, "
            f"column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"contest file {path} must hold a JSON object")
    try:
        return Contest.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"contest file {path} is invalid: {_summarise(exc)}") from None
