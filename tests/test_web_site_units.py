"""The website's pure parts: languages and the Persian calendar, the charts' geometry, the
console's tokens, the tracking-code reader, the record archive."""

from __future__ import annotations

import datetime
import io
import tarfile
from decimal import Decimal
from fractions import Fraction

import pytest

from verivote.web.site import charts, sessions, views
from verivote.web.site.api import tar_size, tar_stream
from verivote.web.site.i18n import (
    LANGUAGES,
    catalogue,
    jalali_leap,
    language,
    persian_digits,
    pick_language,
    placeholders,
    to_ascii_digits,
    to_jalali,
)
from verivote.web.site.source import RecordFile

FA = language("fa")
EN = language("en")


def test_both_catalogues_have_the_same_messages_with_the_same_placeholders() -> None:
    fa, en = catalogue("fa"), catalogue("en")
    assert set(fa) == set(en)
    for key in en:
        assert placeholders(fa[key]) == placeholders(en[key]), key
        assert fa[key].strip(), key
        assert en[key].strip(), key
    # The words the issue names, as Persian readers know them.
    assert fa["status_elected"] == "برگزیده"
    assert fa["round_2"] == "دور دوم"
    assert fa["nav_track"] == "رهگیری رأی"
    assert fa["district"] == "حوزه انتخابیه"


def test_persian_digits_numbers_and_percentages() -> None:
    assert persian_digits("2024-03-01") == "۲۰۲۴-۰۳-۰۱"
    assert to_ascii_digits("۰۱۲۳۴۵۶۷۸۹ ٠١٢٣٤٥٦٧٨٩") == "0123456789 0123456789"
    assert FA.number(1234567) == "۱٬۲۳۴٬۵۶۷"
    assert EN.number(1234567) == "1,234,567"
    assert FA.number(Decimal("1.6"), 2) == "۱٫۶۰"
    assert EN.number(Fraction(8, 5), 1) == "1.6"
    assert FA.percent(Fraction(1, 5), 0) == "۲۰٪"
    assert EN.percent(0.625) == "62.5%"
    assert EN.percent(None) == "–"
    assert FA.direction == "rtl"
    assert EN.direction == "ltr"
    assert FA.other == "en"
    assert EN.t("seats_count", seats=EN.number(3)) == "3 seat(s)"
    with pytest.raises(KeyError):
        EN.t("no such message")


@pytest.mark.parametrize(
    ("day", "jalali"),
    [
        (datetime.date(2024, 3, 1), (1402, 12, 11)),  # the Majlis election of 2024
        (datetime.date(2024, 3, 20), (1403, 1, 1)),  # Nowruz 1403
        (datetime.date(2025, 3, 20), (1403, 12, 30)),  # 1403 is a leap year
        (datetime.date(2025, 3, 21), (1404, 1, 1)),
        (datetime.date(2021, 3, 20), (1399, 12, 30)),
        (datetime.date(1979, 2, 11), (1357, 11, 22)),
        (datetime.date(2020, 2, 21), (1398, 12, 2)),  # the Majlis election of 2020
        (datetime.date(2024, 9, 22), (1403, 7, 1)),  # Mehr: the first 30-day month
        (datetime.date(2024, 9, 21), (1403, 6, 31)),
    ],
)
def test_the_solar_hijri_calendar(day: datetime.date, jalali: tuple[int, int, int]) -> None:
    assert to_jalali(day) == jalali


def test_dates_in_each_language_and_outside_the_calendars_range() -> None:
    assert FA.date(datetime.date(2024, 3, 1)) == "۱۱ اسفند ۱۴۰۲"
    assert EN.date(datetime.date(2024, 3, 1)) == "1 March 2024"
    assert to_jalali(datetime.date(1800, 1, 1)) is None
    assert FA.date(datetime.date(1800, 1, 1)) == "۱ ژانویه ۱۸۰۰"
    leaps = [y for y in range(1395, 1410) if jalali_leap(y)]
    assert leaps == [1395, 1399, 1403, 1408]
    # Every day of 1300–1499 AP has exactly one Solar Hijri date, in order.
    day, previous = datetime.date(1921, 3, 21), (1299, 12, 29)
    while (found := to_jalali(day)) is not None:
        _y, m, d = found
        assert found > previous
        assert 1 <= m <= 12
        assert 1 <= d <= (31 if m <= 6 else 30)
        previous, day = found, day + datetime.timedelta(days=1)
    assert previous[0] == 1500
    assert day.year == 2122


def test_the_visitors_language() -> None:
    assert [pick_language(q, c)[0].code for q, c in
            [(None, None), ("en", None), (None, "en"), ("fa", "en"), ("xx", "yy")]] == [
        "fa", "en", "en", "fa", "fa"]  # fmt: skip
    assert pick_language("en", None)[1]
    assert not pick_language(None, "en")[1]
    assert set(LANGUAGES) == {"fa", "en"}


def test_a_bar_chart_is_mirrored_in_persian_with_the_threshold_at_its_value() -> None:
    rows = [charts.Row("A", 10, "10", "elected"), charts.Row("B", 4, "4", "runoff")]
    ltr = charts.bar_chart("t", rows, rtl=False, marker=(5.0, "20%"))
    rtl = charts.bar_chart("t", rows, rtl=True, marker=(5.0, "20%"))
    span = charts.WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH
    a, b = ltr.bars
    assert (a.x, a.width, b.width) == (charts.LABEL_WIDTH, span, span * 0.4)
    assert ltr.marker is not None
    assert ltr.marker.x == charts.LABEL_WIDTH + span / 2
    for left, right in zip(ltr.bars, rtl.bars, strict=True):
        assert right.x == pytest.approx(charts.WIDTH - left.x - left.width)
        assert right.label_x == pytest.approx(charts.WIDTH - left.label_x)
        assert right.value_x == pytest.approx(charts.WIDTH - left.value_x)
    assert rtl.marker is not None
    assert rtl.marker.x == pytest.approx(charts.WIDTH - ltr.marker.x)
    assert (ltr.direction, rtl.direction) == ("ltr", "rtl")
    # A threshold above every bar sets the scale: no bar reaches the line.
    high = charts.bar_chart("t", rows, rtl=False, marker=(20.0, "x"))
    assert high.marker is not None
    assert max(b.x + b.width for b in high.bars) < high.marker.x
    assert charts.bar_chart("t", [charts.Row("A", 0, "0", "x")], rtl=False).bars[0].width == 0


def test_session_and_csrf_tokens_are_signed_and_expire() -> None:
    secret, other = sessions.new_secret(), sessions.new_secret()
    cookie = sessions.issue_session(secret, "tabriz-001", now=1000.0)
    assert sessions.read_session(secret, cookie, now=1001.0) == "tabriz-001"
    assert sessions.read_session(other, cookie, now=1001.0) is None
    assert sessions.read_session(secret, cookie, now=1000.0 + sessions.SESSION_SECONDS) is None
    forged = cookie.replace("tabriz-001", "tabriz-002", 1)
    assert sessions.read_session(secret, forged, now=1001.0) is None
    for junk in (None, "", "~", "a~b~c~d", "é" * 10, "x" * 600):
        assert sessions.read_session(secret, junk, now=1001.0) is None
    nonce = sessions.new_nonce()
    token = sessions.csrf_token(secret, nonce)
    assert sessions.csrf_ok(secret, nonce, token)
    assert not sessions.csrf_ok(secret, sessions.new_nonce(), token)
    assert not sessions.csrf_ok(other, nonce, token)
    assert not sessions.csrf_ok(secret, nonce, None)
    assert not sessions.csrf_ok(secret, None, token)
    assert not sessions.csrf_ok(secret, nonce, "ü" + token[1:])


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("AB" * 32, "ab" * 32),
        ("abcd-ef01-2345-6789", "abcdef0123456789"),
        (" abcd ef01\u200c2345–6789 ", "abcdef0123456789"),
        ("۰۱۲۳-۴۵۶۷-۸۹ab-cdef", "0123456789abcdef"),
    ],
)
def test_tracking_codes_as_voters_type_them(typed: str, code: str) -> None:
    assert views.normalise_code(typed) == code


@pytest.mark.parametrize(
    ("typed", "key"),
    [("", "error_code_empty"), ("- -", "error_code_empty"), ("xyz", "error_code_malformed"),
     ("ab" * 20, "error_code_malformed"), ("a" * 500, "error_code_malformed"),
     ("g" * 64, "error_code_malformed")],
)  # fmt: skip
def test_malformed_tracking_codes(typed: str, key: str) -> None:
    with pytest.raises(views.BadInput) as raised:
        views.normalise_code(typed)
    assert raised.value.key == key


def test_the_record_archive_is_a_tar_of_the_announced_size() -> None:
    files = [
        RecordFile("log/a", 700, iter([b"x" * 300, b"y" * 400])),
        RecordFile("log/b", 512, iter([b"z" * 512])),
    ]
    blob = b"".join(tar_stream("rec", files))
    assert len(blob) == tar_size(files) == 512 + 1024 + 512 + 512 + 1024
    with tarfile.open(fileobj=io.BytesIO(blob)) as archive:
        assert archive.getnames() == ["rec/log/a", "rec/log/b"]
        member = archive.extractfile("rec/log/a")
        assert member is not None
        assert member.read() == b"x" * 300 + b"y" * 400
    short = [RecordFile("log/a", 10, iter([b"abc"]))]
    with pytest.raises(RuntimeError, match="announced"):
        b"".join(tar_stream("rec", short))
