"""Reading the ballot CSV and tally CSV formats of DESIGN.md ("Ballot CSV").

Ballot CSV: UTF-8, RFC 4180 quoting, header `count,rank1,rank2,...`; each row a positive
multiplicity and then marks in rank order. An empty cell is a skipped rank, `#overvote` an
overvote, `#overvote:A|B` an overvote naming its candidates.

Tally CSV: header `candidate,votes`; each row a candidate and a non-negative integer.

Both readers stream from a text iterator and raise `BallotFormatError` naming the line of the
first bad row, so a user can find it in an editor.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from verivote.model.ballots import OVERVOTE_CELL, Ballot, Mark, Overvote


class BallotFormatError(ValueError):
    """A ballot or tally file that does not follow its format; the message names the line."""


def _parse_mark(cell: str) -> Mark:
    cell = cell.strip()
    if not cell:
        return None
    if cell == OVERVOTE_CELL:
        return Overvote()
    if cell.startswith(OVERVOTE_CELL + ":"):
        names = tuple(n.strip() for n in cell[len(OVERVOTE_CELL) + 1 :].split("|") if n.strip())
        return Overvote(names)
    return cell


def _parse_count(cell: str, line: int, what: str) -> int:
    text = cell.strip()
    try:
        value = int(text)
    except ValueError:
        raise BallotFormatError(f"line {line}: {what} {text!r} is not a whole number") from None
    return value


def iter_ballots(lines: Iterable[str]) -> Iterator[Ballot]:
    """Yield the ballots of a ballot CSV given as an iterable of text lines."""
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise BallotFormatError("line 1: the file is empty; expected 'count,rank1,...'")
        if not header or header[0].strip().lstrip("\ufeff").lower() != "count":
            raise BallotFormatError(
                "line 1: the header must start with 'count' (format: count,rank1,rank2,...)"
            )
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            count = _parse_count(row[0], line, "count")
            if count < 1:
                raise BallotFormatError(f"line {line}: count must be at least 1, got {count}")
            marks = tuple(_parse_mark(c) for c in row[1:])
            end = len(marks)
            while end and marks[end - 1] is None:
                end -= 1
            yield Ballot(marks[:end], count)
    except csv.Error as exc:
        raise BallotFormatError(f"line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BallotFormatError(f"the file is not UTF-8 text ({exc.reason})") from None


def read_ballots(path: Path) -> list[Ballot]:
    """Read a whole ballot CSV file."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(iter_ballots(fh))


def iter_tally(lines: Iterable[str]) -> Iterator[tuple[str, int]]:
    """Yield `(candidate, votes)` from a tally CSV given as text lines."""
    reader = csv.reader(lines, strict=True)
    seen: set[str] = set()
    try:
        header = next(reader, None)
        if header is None or [h.strip().lstrip("\ufeff").lower() for h in header[:2]] != [
            "candidate",
            "votes",
        ]:
            raise BallotFormatError("line 1: the header must be 'candidate,votes'")
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2 or not row[0].strip():
                raise BallotFormatError(f"line {line}: expected 'candidate,votes'")
            name = row[0].strip()
            votes = _parse_count(row[1], line, "votes")
            if votes < 0:
                raise BallotFormatError(f"line {line}: votes must not be negative, got {votes}")
            if name in seen:
                raise BallotFormatError(f"line {line}: candidate {name!r} appears twice")
            seen.add(name)
            yield name, votes
    except csv.Error as exc:
        raise BallotFormatError(f"line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BallotFormatError(f"the file is not UTF-8 text ({exc.reason})") from None


def read_tally(path: Path) -> dict[str, int]:
    """Read a whole tally CSV file."""
    with path.open(encoding="utf-8", newline="") as fh:
        return dict(iter_tally(fh))
