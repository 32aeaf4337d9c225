"""`verivote export nist-results|nist-cvr` and `verivote import nist-ballot-definition`: the NIST
Common Data Formats (issue 9; `verivote.interop.nist`).

Output goes to `-o FILE`, or to standard output without it; what the command did (and, for an
import, what it left out) goes to standard error, so the output can be piped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import click
import typer
from rich.console import Console
from rich.markup import escape

from verivote.cli.errors import UserError
from verivote.election.publishing import origin
from verivote.interop.nist.ballot_definition import import_ballot_definition
from verivote.interop.nist.common import InteropError
from verivote.interop.nist.cvr import CvrContest, contest_from_file, contest_from_manifest
from verivote.interop.nist.cvr import write_cvr_report as write_cvr
from verivote.interop.nist.record import (
    load_decoded_ballots,
    load_published_round,
    load_record_manifest,
)
from verivote.interop.nist.results import RESULTS_STATUSES, ReportOptions, results_report
from verivote.model.ballot_csv import iter_ballots
from verivote.model.contest import load_contest
from verivote.model.manifest import ManifestError, load_manifest

export_app = typer.Typer(
    help="Write verivote data in other systems' formats (NIST common data formats).",
    no_args_is_help=True,
)
import_app = typer.Typer(
    help="Read other systems' formats into verivote (NIST ballot definitions).",
    no_args_is_help=True,
)

Output = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="File to write (default: standard output)."),
]
Language = Annotated[
    str, typer.Option(help="BCP 47 language tag of the manifest's names, e.g. fa or en.")
]


def add_interop_commands(app: typer.Typer) -> None:
    """Register `export` and `import` on the root command."""
    app.add_typer(export_app, name="export")
    app.add_typer(import_app, name="import")


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """The output file, written to a temporary name and renamed at the end, so that a failed
    export never leaves a half-written file under the name asked for."""
    if path is None:
        yield sys.stdout
        return
    if path.is_dir():
        raise UserError(f"{path} is a directory; give a file name to -o")
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as fh:
            yield fh
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _write_json(doc: Any, path: Path | None) -> None:
    with _output(path) as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=2)
        fh.write("\n")


def _read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise UserError(f"no such {what} file: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


@export_app.command("nist-results")
def export_nist_results(
    records: Annotated[
        list[Path],
        typer.Argument(
            help="Published record folder(s): round 1, and its runoff's record if there was one.",
            show_default=False,
        ),
    ],
    output: Output = None,
    issuer: Annotated[
        str | None,
        typer.Option(help="Issuer of the report (default: the record's authority key name)."),
    ] = None,
    issuer_abbreviation: Annotated[
        str | None, typer.Option(help="Short issuer name (default: the election id).")
    ] = None,
    status: Annotated[
        str,
        typer.Option(
            help="The results' status (NIST ResultsStatus).",
            click_type=click.Choice(RESULTS_STATUSES),
        ),
    ] = "unofficial-complete",
    language: Language = "en",
) -> None:
    """NIST SP 1500-100 v2 election results (JSON) from published election records.

    RECORDS: round 1's record folder (as `verivote publish` writes it), then the runoff's.

    A runoff becomes a second Election of the report, linked to round 1.
    """
    if len(records) > 2:
        raise UserError("give at most two records: round 1 and its runoff")
    try:
        rounds = [load_published_round(r) for r in records]
        first = min(rounds, key=lambda r: r.manifest.round)
        root = (
            first.manifest.previous_round.election_id
            if first.manifest.previous_round
            else (first.manifest.election_id)
        )
        options = ReportOptions(
            issuer=issuer or origin(root),
            issuer_abbreviation=issuer_abbreviation or root,
            status=status,
            language=language,
        )
        doc = results_report(rounds, options)
    except InteropError as exc:
        raise UserError(str(exc)) from None
    _write_json(doc, output)
    contests = sum(len(e["Contest"]) for e in doc["Election"])
    Console(stderr=True).print(
        f"NIST SP 1500-100 results: {len(doc['Election'])} election(s), {contests} contest(s)"
        + (f", written to {escape(str(output))}" if output else ""),
        soft_wrap=True,
    )


@export_app.command("nist-cvr")
def export_nist_cvr(
    ballots: Annotated[
        Path | None,
        typer.Argument(
            help="Ballot CSV: count,rank1,rank2,... (see DESIGN.md). Leave out with --record "
            "to take a mixnet district's decoded ballots from the record.",
            show_default=False,
        ),
    ] = None,
    output: Output = None,
    manifest: Annotated[
        Path | None, typer.Option(help="Manifest (JSON or YAML) of the ballots' election.")
    ] = None,
    record: Annotated[
        Path | None, typer.Option(help="Or a published record folder, to take its manifest.")
    ] = None,
    contest: Annotated[
        Path | None,
        typer.Option(help="Or a contest file (as for `verivote tabulate --contest`)."),
    ] = None,
    district: Annotated[
        str | None,
        typer.Option(help="The ballots' district (default: the manifest's only district)."),
    ] = None,
    station: Annotated[
        str | None,
        typer.Option(help="The polling station every ballot of the file comes from, if known."),
    ] = None,
    notes: Annotated[
        str | None, typer.Option(help="A note on where the ballots come from, for the report.")
    ] = None,
) -> None:
    """NIST SP 1500-103 cast vote records (JSON) of one contest's plaintext ballots.

    BALLOTS: a ballot CSV (count,rank1,rank2,...; see DESIGN.md), e.g. a mixnet's output.
    Without it, --record gives a mixnet district's decoded ballots: its `mix-decryption`
    entry (issue 16, item 3), one CVR per row of the last mix.

    The contest comes from --manifest or --record (with --district), or from --contest.
    """
    if ballots is None:
        _export_decoded(output, manifest, record, contest, district, station, notes)
        return
    spec = _cvr_contest(manifest, record, contest, district, station)
    if not ballots.is_file():
        raise UserError(f"no such ballot file: {ballots}")
    try:
        # Streamed: a district's ballots are read and written one row at a time.
        with ballots.open(encoding="utf-8", newline="") as source, _output(output) as fh:
            note = notes or f"plaintext ballots read from {ballots.name}"
            count = write_cvr(fh, spec, iter_ballots(source), notes=note)
    except InteropError as exc:
        raise UserError(str(exc)) from None
    _cvr_written(count, spec, output)


def _export_decoded(
    output: Path | None,
    manifest: Path | None,
    record: Path | None,
    contest: Path | None,
    district: str | None,
    station: str | None,
    notes: str | None,
) -> None:
    """`export nist-cvr --record R [--district D]`: the CVRs of a mixnet district's decoded
    ballots, as its record's `mix-decryption` entry publishes them."""
    if record is None or manifest is not None or contest is not None:
        raise UserError("give a ballot CSV, or --record alone for a mixnet district's ballots")
    if station is not None:
        raise UserError("--station goes with a ballot CSV: the mixed ballots have no station")
    try:
        decoded = load_decoded_ballots(record, district)
        spec = contest_from_manifest(decoded.manifest, decoded.district)
        note = notes or (
            f"the decoded ballots of the mix-decryption entry of {decoded.district} in "
            f"{record.name}, in the order of the last shuffle"
            + (f" ({decoded.undecodable} rows did not decode)" if decoded.undecodable else "")
        )
        with _output(output) as fh:
            count = write_cvr(fh, spec, decoded.ballots, notes=note)
    except InteropError as exc:
        raise UserError(str(exc)) from None
    _cvr_written(count, spec, output)


def _cvr_written(count: int, spec: CvrContest, output: Path | None) -> None:
    Console(stderr=True).print(
        f"NIST SP 1500-103: {count:,} cast vote records of {escape(spec.name)}"
        + (f", written to {escape(str(output))}" if output else ""),
        soft_wrap=True,
    )


def _cvr_contest(
    manifest: Path | None,
    record: Path | None,
    contest: Path | None,
    district: str | None,
    station: str | None,
) -> CvrContest:
    given = [x for x in (manifest, record, contest) if x is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --manifest, --record and --contest")
    try:
        if contest is not None:
            if district is not None:
                raise UserError("--district goes with --manifest or --record, not --contest")
            return contest_from_file(load_contest(contest), station)
        loaded = load_manifest(manifest) if manifest is not None else None
        if loaded is None:
            assert record is not None
            loaded = load_record_manifest(record)
        return contest_from_manifest(loaded, district, station)
    except (InteropError, ManifestError, ValueError) as exc:
        raise UserError(str(exc)) from None


@import_app.command("nist-ballot-definition")
def import_nist_ballot_definition(
    file: Annotated[
        Path, typer.Argument(help="NIST SP 1500-20 ballot definition (JSON).", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Manifest to write: .yaml/.yml for YAML, else JSON (default: JSON on stdout).",
        ),
    ] = None,
    election: Annotated[
        int, typer.Option(min=1, help="Which Election of the file to import (1 = the first).")
    ] = 1,
    election_id: Annotated[
        str | None,
        typer.Option(help="The manifest's election id (default: made from the election's name)."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(help="Take names in this language when there are several (default: first)."),
    ] = None,
) -> None:
    """A verivote manifest from a NIST ballot definition; lists every part left out.

    FILE: an SP 1500-20 ballot definition in JSON.

    What a manifest has no place for is listed; it fails only if nothing makes a manifest.
    """
    doc = _read_json(file, "ballot definition")
    if not isinstance(doc, dict):
        raise UserError(f"{file} does not hold a JSON object")
    try:
        result = import_ballot_definition(
            doc, election=election, election_id=election_id, language=language
        )
    except InteropError as exc:
        raise UserError(f"{file}: {exc}") from None
    console = Console(stderr=True)
    if result.ignored:
        console.print(f"left out of the manifest ({len(result.ignored)}):")
        for line in result.ignored:
            console.print(f"  - {escape(line)}", soft_wrap=True)
    if result.manifest is None or result.data is None:
        raise UserError(f"{file}: nothing in it can make a manifest (see the list above)")
    if output is not None and output.suffix.lower() in (".yaml", ".yml"):
        import yaml

        with _output(output) as fh:
            yaml.safe_dump(result.data, fh, sort_keys=False, allow_unicode=True)
    else:
        _write_json(result.data, output)
    m = result.manifest
    console.print(
        f"manifest {m.election_id}: {len(m.districts)} district(s), "
        f"{sum(len(d.candidates) for d in m.districts)} candidate(s), "
        f"{len(m.factions)} faction(s), {len(m.stations)} station(s)"
        + (f", written to {escape(str(output))}" if output else ""),
        soft_wrap=True,
    )
