"""Paper ballots as PDF (issue 18, item 1): the pages as a printer would print them, read back
as images by poppler's pdftoppm, their QR code decoded by zxing-cpp and their text extracted by
poppler's pdftotext; and `verivote ballot print`, its errors one line each."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from tests.manifests import small_manifest_data
from verivote.cli.app import run
from verivote.model.manifest import Candidate, District, Manifest, Station, parse_manifest
from verivote.polling.paper import (
    PaperBallot,
    PaperError,
    paper_ballot_pdf,
    paper_ballots_pdf,
)

DPI = 100
A5_PX = (583, 827)  # 148 x 210 mm at 100 dpi
A4_PX = (827, 1170)  # 210 x 297 mm
_BIDI_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def code_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return parse_manifest(small_manifest_data())


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is missing: scripts/setup test installs Debian's poppler-utils"
    return path


def pages_of(pdf: bytes, tmp_path: Path, name: str = "ballot") -> list[Image.Image]:
    """The PDF's pages rendered at 100 dpi by pdftoppm, as RGB images."""
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [_poppler("pdftoppm"), "-r", str(DPI), "-png", str(source), str(tmp_path / name)],
        check=True,
        timeout=60,
    )
    files = sorted(tmp_path.glob(f"{name}-*.png"))
    return [Image.open(f).convert("RGB") for f in files]


def text_of(pdf: bytes, tmp_path: Path) -> str:
    """The PDF's text as pdftotext extracts it, without the bidi marks it adds."""
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    out = subprocess.run(
        [_poppler("pdftotext"), str(source), "-"], check=True, capture_output=True, timeout=60
    )
    return _BIDI_MARKS.sub("", out.stdout.decode("utf-8"))


def qr_codes(page: Image.Image) -> list[tuple[str, int, int]]:
    """The QR codes zxing-cpp finds on the page: their text and centre in pixels."""
    found = []
    for result in zxingcpp.read_barcodes(page):
        assert result.format == zxingcpp.BarcodeFormat.QRCode
        p = result.position
        xs = [p.top_left.x, p.top_right.x, p.bottom_left.x, p.bottom_right.x]
        ys = [p.top_left.y, p.top_right.y, p.bottom_left.y, p.bottom_right.y]
        found.append((result.text, sum(xs) // 4, sum(ys) // 4))
    return found


def tabriz_ballot(manifest: Manifest, language: str, code: str) -> bytes:
    factions = {f.id: f.name for f in manifest.factions}
    return paper_ballot_pdf(
        manifest.name,
        manifest.district("tabriz"),
        manifest.station("tabriz-001"),
        ["1104", "1101"],
        code,
        "fa" if language == "fa" else "en",
        serial="tabriz-001/0042",
        factions=factions,
    )


@pytest.mark.parametrize("language", ["en", "fa"])
def test_ballot_page_is_a5_with_its_qr_code_decoding_to_the_tracking_code(
    manifest: Manifest, tmp_path: Path, language: str
) -> None:
    code = code_of("a")
    pages = pages_of(tabriz_ballot(manifest, language, code), tmp_path)
    assert len(pages) == 1
    page = pages[0]
    assert page.size == A5_PX
    [(text, x, y)] = qr_codes(page)
    assert text == code
    # the QR code sits at the foot, on the side where a line ends (right in English, left in
    # Persian), so a scanner finds it in one place
    assert y > page.height * 0.75
    assert (x > page.width * 0.6) if language == "en" else (x < page.width * 0.4)
    # ink at the head (the election's name) and paper left white around it
    gray = page.convert("L")
    head = gray.crop((0, 0, page.width, int(page.height * 0.1)))
    assert sum(head.histogram()[:64]) > 0
    assert sum(gray.histogram()[201:]) > 0.8 * page.width * page.height


def test_english_ballot_text_has_the_candidates_blank_seats_and_code(
    manifest: Manifest, tmp_path: Path
) -> None:
    code = code_of("b")
    text = text_of(tabriz_ballot(manifest, "en", code), tmp_path)
    for needed in (
        "Test Majlis election",
        "Constituency",
        "Tabriz, Azarshahr and Osku",
        "School 1 (tabriz-001)",
        "Votes for 2 of 3 seats",
        "1104",
        "Maryam Jafari (Reformists)",
        "1101",
        "Ali Karimi (Principlists)",
        "Tracking code",
        "bulletin board",
        "Serial: tabriz-001/0042",
    ):
        assert needed in text, needed
    # Maryam Jafari is printed first: the order the voter marked
    assert text.index("Maryam Jafari") < text.index("Ali Karimi")
    # the one seat left empty is a line of dashes, code and name
    assert text.count("—") >= 2
    # the code in groups of four, the whole of it
    assert " ".join(code[i : i + 4] for i in range(0, 16, 4)) in text
    assert code in re.sub(r"\s", "", text)


def test_persian_ballot_text_has_persian_labels_and_digits(
    manifest: Manifest, tmp_path: Path
) -> None:
    code = code_of("c")
    text = text_of(tabriz_ballot(manifest, "fa", code), tmp_path)
    for needed in ("حوزه انتخابیه", "شعبه اخذ رأی", "کد رهگیری", "۱۱۰۴", "۱۱۰۱", "Maryam Jafari"):
        assert needed in text, needed
    assert code in re.sub(r"\s", "", text)


def test_persian_names_are_shaped_from_the_font(tmp_path: Path) -> None:
    """A district written in Persian: its names come out of the PDF as the same words, and
    the page's QR code still reads."""
    district = District(
        id="tehran",
        name="تهران، ری، شمیرانات",
        seats=30,
        candidates=[
            Candidate(code=str(1000 + i), name=f"نامزد شماره {i}", faction="reform")
            for i in range(40)
        ],
    )
    station = Station(id="teh-1", name="مدرسه فردوسی", district="tehran")
    code = code_of("tehran")
    pdf = paper_ballot_pdf(
        "انتخابات مجلس شورای اسلامی",
        district,
        station,
        ["1007", "1003"],
        code,
        "fa",
        factions={"reform": "اصلاح‌طلبان"},
    )
    [page] = pages_of(pdf, tmp_path)
    assert page.size == A4_PX  # 30 seats do not fit on A5
    assert [t for t, _, _ in qr_codes(page)] == [code]
    # pdftotext puts back the words, though not always the punctuation and digits between
    # them in their places
    text = text_of(pdf, tmp_path)
    for needed in ("تهران", "شمیرانات", "مدرسه فردوسی", "نامزد شماره", "طلبان", "۱۰۰۷", "۳۰"):
        assert needed in text, needed
    assert text.index("۱۰۰۷") < text.index("۱۰۰۳")


def test_many_ballots_of_a_station_print_one_page_each(manifest: Manifest, tmp_path: Path) -> None:
    codes = [code_of(str(i)) for i in range(3)]
    ballots = [
        PaperBallot(("1102",), codes[0], "1"),
        PaperBallot((), codes[1], "2"),
        PaperBallot(("1105", "1103", "1101"), codes[2], "3"),
    ]
    pdf = paper_ballots_pdf(
        manifest.name,
        manifest.district("tabriz"),
        manifest.station("tabriz-002"),
        ballots,
        "en",
    )
    pages = pages_of(pdf, tmp_path)
    assert [p.size for p in pages] == [A5_PX] * 3
    assert [[t for t, _, _ in qr_codes(p)] for p in pages] == [[c] for c in codes]
    text = text_of(pdf, tmp_path)
    assert "Votes for 0 of 3 seats" in text
    assert "Votes for 3 of 3 seats" in text
    # with no factions given, a faction prints as its id
    assert "Zahra Ahmadi (reformists)" in text


def test_same_ballot_prints_the_same_bytes(manifest: Manifest) -> None:
    code = code_of("d")
    first = tabriz_ballot(manifest, "fa", code)
    assert tabriz_ballot(manifest, "fa", code) == first
    assert tabriz_ballot(manifest, "fa", code_of("e")) != first
    # in another process too, whatever its hash seed
    script = f"""
import sys
from tests.manifests import small_manifest_data
from verivote.model.manifest import parse_manifest
from verivote.polling.paper import paper_ballot_pdf
m = parse_manifest(small_manifest_data())
pdf = paper_ballot_pdf(
    m.name, m.district("tabriz"), m.station("tabriz-001"), ["1104", "1101"], {code!r}, "fa",
    serial="tabriz-001/0042", factions={{f.id: f.name for f in m.factions}},
)
sys.stdout.buffer.write(pdf)
"""
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parent.parent
    other = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, check=True
    )
    assert other.stdout == first


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        (["2201"], "'2201' is not the code of a candidate of district tabriz"),
        (["1101", "1101"], "candidate 1101 is chosen twice"),
        (["1101", "1102", "1103", "1104"], "4 choices but district tabriz has 3 seat(s)"),
    ],
)
def test_bad_choices_are_refused(manifest: Manifest, choices: list[str], message: str) -> None:
    with pytest.raises(PaperError) as refused:
        paper_ballot_pdf(
            manifest.name,
            manifest.district("tabriz"),
            manifest.station("tabriz-001"),
            choices,
            code_of("f"),
        )
    assert str(refused.value) == message


def test_station_of_another_district_and_bad_code_are_refused(manifest: Manifest) -> None:
    with pytest.raises(PaperError, match="station isfahan-arm-1 is not in district tabriz"):
        paper_ballot_pdf(
            manifest.name, manifest.district("tabriz"), manifest.station("isfahan-arm-1"), [], ""
        )
    with pytest.raises(PaperError, match="is not 64 hex digits"):
        paper_ballot_pdf(
            manifest.name, manifest.district("tabriz"), manifest.station("tabriz-001"), [], "3f2a"
        )


@pytest.fixture
def manifest_file(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(small_manifest_data()), encoding="utf-8")
    return path


def test_cli_prints_a_ballot(
    manifest_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ballot.pdf"
    code = code_of("g")
    dashed = "-".join(code[i : i + 4] for i in range(0, 64, 4)).upper()
    status = run(
        [
            "ballot", "print", "--manifest", str(manifest_file), "--station", "tabriz-003",
            "--choices", "1103, 1105", "--tracking-code", dashed, "--language", "en",
            "--out", str(out), "--serial", "7",
        ]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    assert "written to" in capsys.readouterr().out
    [page] = pages_of(out.read_bytes(), tmp_path)
    assert [t for t, _, _ in qr_codes(page)] == [code]
    text = text_of(out.read_bytes(), tmp_path)
    assert "Reza Moradi (Independents)" in text
    assert "Library 3 (tabriz-003)" in text


@pytest.mark.parametrize(
    ("station", "choices", "language", "error"),
    [
        ("nowhere", "1101", "fa", "no station 'nowhere' in the manifest of test-2024"),
        (
            "tabriz-001",
            "1101,2201",
            "fa",
            "ballot not printed: '2201' is not the code of a candidate of district tabriz",
        ),
        (
            "tabriz-001",
            "1101,1102,1103,1104",
            "fa",
            "ballot not printed: 4 choices but district tabriz has 3 seat(s)",
        ),
        ("tabriz-001", "1101,1101", "fa", "ballot not printed: candidate 1101 is chosen twice"),
        ("tabriz-001", "1101", "de", "--language 'de': use one of fa, en"),
    ],
)
def test_cli_errors_are_one_line(
    manifest_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    station: str,
    choices: str,
    language: str,
    error: str,
) -> None:
    out = tmp_path / "ballot.pdf"
    status = run(
        [
            "ballot", "print", "--manifest", str(manifest_file), "--station", station,
            "--choices", choices, "--tracking-code", code_of("h"), "--language", language,
            "--out", str(out),
        ]
    )  # fmt: skip
    assert status == 1
    assert capsys.readouterr().err == f"verivote: error: {error}\n"
    assert not out.exists()


def test_cli_bad_tracking_code_and_manifest(
    manifest_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "ballot.pdf")
    base = ["ballot", "print", "--station", "tabriz-001", "--out", out]
    assert run([*base, "--manifest", str(manifest_file), "--tracking-code", "xyz"]) == 1
    assert "tracking code 'xyz' is not 64 hex digits" in capsys.readouterr().err
    missing = str(tmp_path / "none.json")
    assert run([*base, "--manifest", missing, "--tracking-code", code_of("i")]) == 1
    assert capsys.readouterr().err.startswith("verivote: error: no such manifest file")
