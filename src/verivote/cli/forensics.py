"""`verivote forensics`: the forensics report of an election's station counts (issue 18, item 3).

    verivote forensics RECORD [--json] [--out DIR]

RECORD is a published record folder (its stations' signed result forms, read by
`verivote.audit.stations.station_counts`) or a CSV file of station counts (a name ending .csv):
UTF-8, one header row

    station,district,registered,checked_in,ballots,<candidate code>,<candidate code>,...

then one row per station: its id (unique), its district, the voters on its list (empty: the
station keeps no list, so it has no turnout), the voters it checked in, the ballots in its box,
and each candidate's votes there (empty: not a candidate at this station, e.g. one of another
district). Counts are whole numbers written with the digits 0-9 alone.

Writes DIR/forensics.html (the report, self-contained) and DIR/forensics.json (the summary of
`verivote.audit.forensics_report.analyse`), DIR being the current directory by default, and
prints a short summary; with --json, the summary as one JSON line instead.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from verivote.audit.stations import StationCount
from verivote.cli.errors import UserError

HEADER = ("station", "district", "registered", "checked_in", "ballots")
_WHOLE = re.compile(r"[0-9]+")


def read_station_csv(path: Path) -> list[StationCount]:
    """The station counts of a CSV file in the format of the module docstring; any bad field
    is a one-line UserError naming the file, the line and the column."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 ({exc.reason})") from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a CSV file ({exc})") from None
    if not rows:
        raise UserError(f"{path} is empty: it needs the header {','.join(HEADER)},<codes>...")
    header = [h.strip() for h in rows[0]]
    if tuple(header[: len(HEADER)]) != HEADER:
        raise UserError(
            f"{path}, line 1: the header starts {','.join(HEADER)}, "
            f"not {_show(','.join(header[: len(HEADER)]))}"
        )
    codes = header[len(HEADER) :]
    if not codes:
        raise UserError(f"{path}, line 1: no candidate columns after {','.join(HEADER)}")
    seen_codes: set[str] = set()
    for code in codes:
        if not code:
            raise UserError(f"{path}, line 1: a candidate column has no code")
        if code in seen_codes or code in HEADER:
            raise UserError(f"{path}, line 1: the column {_show(code)} appears twice")
        seen_codes.add(code)
    out: list[StationCount] = []
    stations: set[str] = set()
    for line, row in enumerate(rows[1:], 2):
        if not row:
            continue
        where = f"{path}, line {line}"
        if len(row) != len(header):
            raise UserError(f"{where}: {len(row)} fields, but the header has {len(header)}")
        station, district = row[0].strip(), row[1].strip()
        if not station:
            raise UserError(f"{where}: the station id is empty")
        if station in stations:
            raise UserError(f"{where}: station {_show(station)} appears twice")
        stations.add(station)
        if not district:
            raise UserError(f"{where}: the district of station {_show(station)} is empty")
        registered = _maybe_count(row[2], where, "registered")
        checked_in = _count(row[3], where, "checked_in")
        ballots = _count(row[4], where, "ballots")
        votes: dict[str, int] = {}
        for code, cell in zip(codes, row[len(HEADER) :], strict=True):
            v = _maybe_count(cell, where, code)
            if v is not None:
                votes[code] = v
        out.append(StationCount(station, district, registered, checked_in, ballots, votes))
    if not out:
        raise UserError(f"{path} has a header but no station")
    return out


def _maybe_count(cell: str, where: str, column: str) -> int | None:
    return _count(cell, where, column) if cell.strip() else None


def _count(cell: str, where: str, column: str) -> int:
    text = cell.strip()
    if not _WHOLE.fullmatch(text):
        what = "empty" if not text else _show(text)
        raise UserError(f"{where}: {column} must be a whole number of at least 0, not {what}")
    return int(text)


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def load_counts(record: Path) -> list[StationCount]:
    """The station counts of RECORD: a CSV file, or a record folder's result forms."""
    if record.is_file():
        if record.suffix.lower() != ".csv":
            raise UserError(
                f"{record} is a file but not a .csv of station counts; RECORD is a record "
                "folder or a CSV file"
            )
        return read_station_csv(record)
    if not record.is_dir():
        raise UserError(f"no such record folder or CSV file: {record}")
    from verivote.audit.stations import station_counts

    try:
        counts = station_counts(record)
    except ValueError as exc:
        raise UserError(f"{record}: {exc}") from None
    if not counts:
        raise UserError(f"{record} holds no station's result form: nothing to analyse")
    return counts


def forensics_command(
    record: Annotated[
        Path,
        typer.Argument(
            help="A published record folder, or a CSV of station counts with the header "
            "station,district,registered,checked_in,ballots,<candidate codes>.",
            show_default=False,
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON line.")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="The folder for forensics.html and forensics.json.")
    ] = Path("."),
) -> None:
    """The forensics of the stations' counts: Klimek's fingerprint, last- and second-digit
    tests, turnout and vote-share outliers, identical results, as an HTML report with plots."""
    from verivote.audit.forensics_report import analyse, render_html

    counts = load_counts(record)
    summary = analyse(counts)
    page = render_html(summary, counts)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / "forensics.json").write_text(
        json.dumps(summary, ensure_ascii=False, allow_nan=False, indent=1) + "\n",
        encoding="utf-8",
    )
    (out / "forensics.html").write_text(page, encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, allow_nan=False))
        return
    _print_summary(summary, out)


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from verivote.audit.forensics_report import TEST_NAMES, TESTS, VERDICT_TESTS

    console = Console()
    table = Table(title="Election forensics")
    for name in ("test", "statistic", "p-value", "n", "verdict"):
        table.add_column(name)
    tests = summary["tests"]
    for k in TESTS:
        t = tests[k]
        verdict = "suspicious" if t["rejects_bonferroni"] else "—"
        if not t["in_verdict"]:
            verdict = "not in the verdict"
        table.add_row(TEST_NAMES[k], f"{t['statistic']:.3f}", f"{t['p_value']:.3g}", str(t["n"]),
                      verdict)  # fmt: skip
    console.print(table)
    totals = summary["totals"]
    lines = [
        f"{summary['stations']} stations in {len(summary['districts'])} districts, "
        f"{totals['ballots']:,} ballots; {len(summary['flagged'])} stations flagged",
    ]
    if summary["stations_without_list"]:
        lines.append(
            f"{len(summary['stations_without_list'])} stations have no list of voters: "
            "left out of the turnout tests"
        )
    if summary["verdict"]:
        names = ", ".join(TEST_NAMES[k] for k in summary["verdict"])
        lines.append(f"suspicious at α/{len(VERDICT_TESTS)} = {summary['bonferroni_alpha']:.3g}: "
                     f"{names}")  # fmt: skip
    else:
        lines.append(
            f"no test rejects at α/{len(VERDICT_TESTS)} = {summary['bonferroni_alpha']:.3g}"
        )
    lines.append(f"wrote {out / 'forensics.html'} and {out / 'forensics.json'}")
    for line in lines:
        console.print(line, markup=False, highlight=False)
