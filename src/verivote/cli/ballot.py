"""`verivote ballot encrypt | cast | challenge` and `verivote cast`: a voting device's steps in
the order Benaloh's challenge needs (issue 14, item 6). The device encrypts the ballot and shows
its tracking code first; only then does the voter decide to cast it or to challenge it, so a
device cannot know, while it encrypts, which ballots will be audited.

`ballot encrypt` writes the sealed ballot to a file readable by its owner only (0600): the
encrypted ballot and its opening (the choices and every encryption nonce, secret until a
challenge publishes them), in the JSON form

    {"format": "verivote-sealed-ballot/1", "election": id, "tracking_code": code,
     "ballot": {...}, "opening": {"choices": [codes], "nonces": [hex scalars]}}

`ballot cast FILE` or `ballot challenge FILE` then decides; a sealed ballot is used once and
its file removed after it reached the board (the opening of a cast ballot must not outlive
it). `verivote cast` does both steps in one command, printing the code before deciding.

`ballot print` prints the paper ballot a ballot-marking device gives the voter, as a PDF
(`verivote.polling.paper`, issue 18, item 1): it needs the manifest only, no database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from verivote.cli.election import Db, ElectionId, _context, _store
from verivote.cli.errors import UserError
from verivote.crypto.ballot import BallotError, OpenedBallot, opening_to_json
from verivote.crypto.keyfile import read_private, write_private
from verivote.crypto.tracking import code_of, short
from verivote.crypto.written import encrypt_for_station
from verivote.election.service import ElectionContext, ElectionError, Receipt, cast, challenge
from verivote.model.manifest import ManifestError, load_manifest
from verivote.store import Store, StoreError

FORMAT = "verivote-sealed-ballot/1"

ballot_app = typer.Typer(
    help="A voting device's steps: encrypt (the tracking code is shown), then cast or challenge.",
    no_args_is_help=True,
)

Station = Annotated[str, typer.Option(help="The polling station.")]
Choose = Annotated[
    list[str] | None,
    typer.Option(
        "--choose",
        help="A candidate code (repeat, up to the seats; in a mixnet district the codes are "
        "written as given, repeats and unknown codes included).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _encrypt(
    ctx: ElectionContext, station: str, choices: list[str]
) -> tuple[dict[str, Any], OpenedBallot, str]:
    if ctx.key is None:
        raise UserError("the key ceremony has not been held yet (run verivote election ceremony)")
    try:
        ballot, opened = encrypt_for_station(ctx.manifest, ctx.key, ctx.base_hash, station, choices)
    except BallotError as exc:
        raise UserError(f"ballot refused: {exc}") from None
    return ballot, opened, code_of(ctx.base_hash, ballot)


def _decide(
    store: Store, ctx: ElectionContext, ballot: dict[str, Any], opened: OpenedBallot, decision: str
) -> Receipt:
    try:
        if decision == "challenge":
            return challenge(store, ctx, ballot, opened)
        return cast(store, ctx, ballot)
    except (BallotError, ElectionError, StoreError) as exc:
        raise UserError(f"ballot refused: {exc}") from None


def _print_receipt(receipt: Receipt, station: str, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps({"state": receipt.state, "code": receipt.code, "index": receipt.board_index})
        )
        return
    where = (
        "waits in the station's batch, which goes onto the board shuffled"
        if receipt.board_index is None
        else f"board entry {receipt.board_index}"
    )
    Console().print(
        f"ballot {receipt.state} at {station}: code [bold]{short(receipt.code)}[/] "
        f"({receipt.code}), {where}"
    )


@ballot_app.command("encrypt")
def ballot_encrypt(
    station: Station,
    output: Annotated[
        Path, typer.Option("--output", help="The sealed ballot's file (created, mode 0600).")
    ],
    choose: Choose = None,
    election: ElectionId = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Encrypt a ballot and show its tracking code; nothing reaches the board yet."""
    store = _store(db)
    ctx = _context(store, election)
    ballot, opened, code = _encrypt(ctx, station, choose or [])
    assert ctx.key is not None
    sealed = {
        "format": FORMAT,
        "election": ctx.election_id,
        "tracking_code": code,
        "ballot": ballot,
        "opening": opening_to_json(ctx.key.group, opened),
    }
    try:
        write_private(output, json.dumps(sealed, indent=1) + "\n")
    except FileExistsError:
        raise UserError(f"{output} already exists; a sealed ballot is never overwritten") from None
    if as_json:
        typer.echo(json.dumps({"code": code, "station": station, "file": str(output)}))
        return
    Console().print(
        f"ballot encrypted at {station}: tracking code [bold]{short(code)}[/] ({code})\n"
        f"now cast it (verivote ballot cast {output}) or challenge it "
        f"(verivote ballot challenge {output})"
    )


def _read_sealed(path: Path, ctx: ElectionContext) -> tuple[dict[str, Any], OpenedBallot]:
    try:
        doc = json.loads(read_private(path))
    except ValueError as exc:  # also a file others may read (read_private)
        raise UserError(f"{path}: not a sealed ballot ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UserError(f"{path}: not a sealed ballot (format {FORMAT})")
    if doc.get("election") != ctx.election_id:
        raise UserError(f"{path}: a ballot of election {doc.get('election')!r}, not of this one")
    ballot, opening = doc.get("ballot"), doc.get("opening")
    if not isinstance(ballot, dict) or not isinstance(opening, dict):
        raise UserError(f"{path}: not a sealed ballot (no ballot or opening)")
    try:
        if code_of(ctx.base_hash, ballot) != doc.get("tracking_code"):
            raise UserError(f"{path}: the ballot is not the one whose tracking code was shown")
        assert ctx.key is not None
        group = ctx.key.group
        choices = opening["choices"]
        nonces = [group.decode_scalar(bytes.fromhex(n)) for n in opening["nonces"]]
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise TypeError("the choices are not a list of codes")
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: not a sealed ballot ({exc})") from None
    return ballot, OpenedBallot(tuple(choices), tuple(nonces))


def _use(path: Path, decision: str, election: str | None, db: str | None, as_json: bool) -> None:
    store = _store(db)
    ctx = _context(store, election)
    if ctx.key is None:
        raise UserError("the key ceremony has not been held yet (run verivote election ceremony)")
    ballot, opened = _read_sealed(path, ctx)
    receipt = _decide(store, ctx, ballot, opened, decision)
    path.unlink()  # used: the opening of a cast ballot must not outlive it
    _print_receipt(receipt, str(ballot.get("station")), as_json)


SealedFile = Annotated[Path, typer.Argument(help="The sealed ballot written by ballot encrypt.")]


@ballot_app.command("cast")
def ballot_cast(
    sealed: SealedFile, election: ElectionId = None, db: Db = None, as_json: AsJson = False
) -> None:
    """Cast a sealed ballot (its opening is then destroyed with the file)."""
    _use(sealed, "cast", election, db, as_json)


@ballot_app.command("challenge")
def ballot_challenge(
    sealed: SealedFile, election: ElectionId = None, db: Db = None, as_json: AsJson = False
) -> None:
    """Challenge a sealed ballot: it is published with its opening and never counted."""
    _use(sealed, "challenge", election, db, as_json)


def cast_command(
    station: Station,
    choose: Choose = None,
    challenge_ballot: Annotated[
        bool,
        typer.Option(
            "--challenge",
            help="Challenge instead of casting. For scripts: the decision is applied only "
            "after the ballot is encrypted and its tracking code printed.",
        ),
    ] = False,
    election: ElectionId = None,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Encrypt a ballot as a voting device does, print its tracking code, then cast it (or
    challenge it). `verivote ballot encrypt` and `ballot cast|challenge` are the same steps
    with the voter deciding in between."""
    store = _store(db)
    ctx = _context(store, election)
    ballot, opened, code = _encrypt(ctx, station, choose or [])
    if not as_json:
        Console().print(f"ballot encrypted at {station}: tracking code {short(code)} ({code})")
    receipt = _decide(store, ctx, ballot, opened, "challenge" if challenge_ballot else "cast")
    _print_receipt(receipt, station, as_json)


@ballot_app.command("print")
def ballot_print(
    manifest: Annotated[
        Path, typer.Option("--manifest", help="The election's manifest (.json, .yaml or .yml).")
    ],
    station: Station,
    tracking_code: Annotated[
        str,
        typer.Option(
            "--tracking-code",
            help="The ballot's tracking code: 64 hex digits (spaces and dashes are ignored).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The PDF file to write (replaced).")],
    choices: Annotated[
        str,
        typer.Option(
            "--choices",
            help="The chosen candidates' codes, comma-separated, in the order marked (at most "
            "the district's seats; none for a blank ballot).",
        ),
    ] = "",
    language: Annotated[
        str, typer.Option("--language", help="The voter's language: fa (Persian) or en.")
    ] = "fa",
    serial: Annotated[
        str | None, typer.Option("--serial", help="A serial number printed at the foot.")
    ] = None,
) -> None:
    """Print a paper ballot as a one-page PDF: the district, the chosen candidates' codes and
    names in the voter's language, and the tracking code as text and as a QR code."""
    from verivote.polling.paper import LANGUAGES, PaperError, paper_ballot_pdf

    if language not in LANGUAGES:
        raise UserError(f"--language {language!r}: use one of {', '.join(LANGUAGES)}")
    try:
        m = load_manifest(manifest)
    except ManifestError as exc:
        raise UserError(str(exc)) from None
    try:
        where = m.station(station)
    except KeyError:
        raise UserError(f"no station {station!r} in the manifest of {m.election_id}") from None
    codes = [c.strip() for c in choices.split(",") if c.strip()]
    factions = {f.id: f.name for f in m.factions}
    try:
        pdf = paper_ballot_pdf(
            m.name,
            m.district(where.district),
            where,
            codes,
            tracking_code,
            "fa" if language == "fa" else "en",
            serial,
            factions=factions,
        )
    except PaperError as exc:
        raise UserError(f"ballot not printed: {exc}") from None
    out.write_bytes(pdf)
    Console().print(f"paper ballot of {station} written to {out} ({len(pdf)} bytes)")
