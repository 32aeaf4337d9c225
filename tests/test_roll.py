"""The voter roll: national-code check digits, the age of 18 on polling day, and a streaming
import that names every rejected row."""

from __future__ import annotations

import datetime
import io

from hypothesis import given
from hypothesis import strategies as st

from verivote.polling.roll import (
    Rejection,
    RollReport,
    Voter,
    coming_of_age,
    national_code_valid,
    read_roll,
)

POLLING_DAY = datetime.date(2024, 3, 1)


def with_check_digit(nine: str) -> str:
    s = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True)) % 11
    return nine + str(s if s < 2 else 11 - s)


def test_known_national_codes() -> None:
    # 001234567: s = 0·10 + 0·9 + 1·8 + 2·7 + 3·6 + 4·5 + 5·4 + 6·3 + 7·2 = 112, 112 mod 11 = 2,
    # check digit 11 − 2 = 9.
    assert national_code_valid("0012345679")
    assert not national_code_valid("0012345676")
    assert not national_code_valid("1111111111")  # passes the arithmetic, never issued
    for bad in ("001234567", "00123456799", "00123456a9", "٠٠١٢٣٤٥٦٧٩"):
        assert not national_code_valid(bad)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 9))
def test_exactly_one_check_digit_is_right(nine: str, digit: int) -> None:
    code = nine + str(digit)
    if len(set(code)) > 1:
        assert national_code_valid(code) == (code == with_check_digit(nine))


def test_eighteen_on_polling_day() -> None:
    assert coming_of_age(POLLING_DAY) == datetime.date(2006, 3, 1)
    assert coming_of_age(datetime.date(2028, 2, 29)) == datetime.date(2010, 2, 28)


def test_an_import_accepts_eligible_voters_and_names_each_rejected_line() -> None:
    good = with_check_digit("001234567")
    other = with_check_digit("987654321")
    young = with_check_digit("123123123")
    csv_text = (
        "national_code,birth_date,district,minority\n"
        f"{good},1980-05-01,tabriz,\n"
        f"{other},2006-03-01,armenians-south,armenian-south\n"
        f"{young},2006-03-02,tabriz,\n"
        "0012345676,1970-01-01,tabriz,\n"
        f"{good},1980-05-01,tabriz,\n"
        f"{with_check_digit('555666777')},1970-13-01,tabriz,\n"
        f"{with_check_digit('111222333')},1970-01-01,mars,\n"
        f"{with_check_digit('222333444')},1970-01-01,tabriz,martian\n"
        "only,two\n"
    )
    report = RollReport()
    items = list(read_roll(io.StringIO(csv_text), POLLING_DAY, ["tabriz", "armenians-south"]))
    for item in items:
        report.note(item)
    voters = [i for i in items if isinstance(i, Voter)]
    assert [v.national_code for v in voters] == [good, other]
    assert voters[1].minority == "armenian-south"
    assert [(r.line, r.reason.split(":")[0]) for r in items if isinstance(r, Rejection)] == [
        (4, "not eligible"),
        (5, "invalid national code"),
        (6, "duplicate national code"),
        (7, "invalid birth date"),
        (8, "unknown district"),
        (9, "unknown minority group"),
        (10, "wrong number of fields"),
    ]
    assert report.accepted == 2
    assert sum(report.rejected.values()) == 7


def test_a_roll_without_its_header_is_refused_at_line_1() -> None:
    items = list(read_roll(io.StringIO("a,b,c\n"), POLLING_DAY, ["tabriz"]))
    assert items == [Rejection(1, items[0].reason)]
    assert isinstance(items[0], Rejection)
    assert "header" in items[0].reason


def test_the_import_streams_without_reading_the_whole_file() -> None:
    def rows() -> object:
        yield "national_code,birth_date,district\n"
        while True:  # an endless roll: only a streaming reader can return a first voter
            yield f"{with_check_digit('001234567')},1980-01-01,tabriz\n"

    first = next(read_roll(rows(), POLLING_DAY, ["tabriz"]))  # type: ignore[arg-type]
    assert isinstance(first, Voter)
