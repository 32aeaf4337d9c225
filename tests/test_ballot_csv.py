"""Reading ballot and tally CSV files: real files on disk, clear errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RCTAB
from verivote.model.ballot_csv import BallotFormatError, read_ballots, read_tally
from verivote.model.ballots import Ballot, Overvote, total


def write(tmp_path: Path, text: str, name: str = "b.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_counts_names_gaps_and_overvotes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'count,rank1,rank2,rank3,rank4\n3,"Brennan, Michael F.",,#overvote,B\n1,#overvote:A|B,,,\n',
    )
    assert read_ballots(path) == [
        Ballot(("Brennan, Michael F.", None, Overvote(), "B"), 3),
        Ballot((Overvote(("A", "B")),), 1),
    ]


def test_trailing_gaps_carry_no_meaning_and_an_empty_row_is_a_blank_ballot(tmp_path: Path) -> None:
    path = write(tmp_path, "count,rank1,rank2\n2,A,\n5,,\n")
    assert read_ballots(path) == [Ballot(("A",), 2), Ballot((), 5)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the file is empty"),
        ("votes,rank1\n1,A\n", "line 1: the header must start with 'count'"),
        ("count,rank1\n1,A\nx,B\n", "line 3: count 'x' is not a whole number"),
        ("count,rank1\n1,A\n2,B\n0,C\n", "line 4: count must be at least 1"),
        ('count,rank1\n1,"A\n', "line 2"),
    ],
)
def test_a_malformed_file_names_the_bad_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BallotFormatError, match=message):
        read_ballots(write(tmp_path, text))


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("count,rank1\n1,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(BallotFormatError, match="not UTF-8"):
        read_ballots(path)


def test_tally_files(tmp_path: Path) -> None:
    assert read_tally(write(tmp_path, "candidate,votes\nA,10\nB,0\n")) == {"A": 10, "B": 0}
    with pytest.raises(BallotFormatError, match="line 3: candidate 'A' appears twice"):
        read_tally(write(tmp_path, "candidate,votes\nA,1\nA,2\n"))
    with pytest.raises(BallotFormatError, match="line 2: votes must not be negative"):
        read_tally(write(tmp_path, "candidate,votes\nA,-1\n"))
    with pytest.raises(BallotFormatError, match="line 1"):
        read_tally(write(tmp_path, "name,count\nA,1\n"))


def test_every_rctab_case_reads_with_the_ballot_totals_of_its_notice() -> None:
    # Totals from ../shared/testdata/rctab/NOTICE.md, "ballots (rows)".
    assert total(read_ballots(RCTAB / "2013_minneapolis_mayor" / "ballots.csv")) == 80101
    assert len(read_ballots(RCTAB / "2013_minneapolis_mayor" / "ballots.csv")) == 7084
    assert total(read_ballots(RCTAB / "dominion_alaska" / "ballots.csv")) == 1000
