"""`verivote device …` (a polling station's device) and `verivote supervisors …` (issue 7).

A station device checks voters in against the server and casts their encrypted ballots (issue
15), or, while the server cannot be reached, records them in a local journal that `verivote
device upload` sends later (check-ins first, then ballots). Supervisors read the uploaded
records the server refused (a voter accepted offline at two stations, say).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from verivote.cli.ballot import FORMAT as SEALED_FORMAT
from verivote.cli.election import Db, ElectionId, _context, _store
from verivote.cli.errors import UserError
from verivote.crypto.keyfile import read_private
from verivote.crypto.tracking import code_of, short
from verivote.polling import device_day, station
from verivote.store.roll import conflicts, issue_supervisor_token
from verivote.web.checkin import tehran_hour

device_app = typer.Typer(
    help="A polling station's device: check voters in and cast ballots, online or offline.",
    no_args_is_help=True,
)
supervisors_app = typer.Typer(help="Supervisors of polling day.", no_args_is_help=True)

ServerUrl = Annotated[
    str, typer.Option("--server", help="The check-in server, e.g. http://10.0.0.5:8000.")
]
TokenFile = Annotated[
    Path,
    typer.Option("--token-file", help="File (mode 0600) holding this station's token."),
]
Journal = Annotated[
    Path,
    typer.Option(
        "--journal",
        help="This device's journal of offline check-ins and ballots (JSON lines).",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _server(url: str, token_file: Path) -> station.Server:
    if not url.startswith(("http://", "https://")):
        raise UserError(f"--server must be an http:// or https:// URL, not {url!r}")
    try:
        token = read_private(token_file).strip()
    except FileNotFoundError:
        raise UserError(f"no token file at {token_file}") from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not token:
        raise UserError(f"{token_file} is empty")
    return station.Server(url, token)


@device_app.command("checkin")
def device_checkin(
    national_code: Annotated[str, typer.Argument(help="The voter's national code (10 digits).")],
    server: ServerUrl,
    token_file: TokenFile,
    journal: Journal = Path("verivote-journal.jsonl"),
    as_json: AsJson = False,
) -> None:
    """Check a voter in; if the server cannot be reached, record it in the journal."""
    try:
        answer = station.check_in(_server(server, token_file), journal, national_code, tehran_hour)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    except station.Refused as exc:
        raise UserError(f"the server refused the check-in: {exc}") from None
    if as_json:
        typer.echo(json.dumps(answer))
        return
    typer.echo(_describe(answer))
    if answer["status"] not in ("accepted", "recorded_offline"):
        raise typer.Exit(3)


def _describe(answer: dict[str, Any]) -> str:
    status = answer["status"]
    if status == "accepted":
        return "accepted: the voter may vote"
    if status == "recorded_offline":
        return f"recorded offline ({answer['reason']}); upload the journal when the server is back"
    if status == "already_voted":
        return "refused: the voter was already checked in"
    if status == "wrong_district":
        return "refused: the voter is on another district's roll"
    return "refused: not on the roll (not eligible)"


def _read_ballot(path: Path) -> tuple[dict[str, Any], str, bool]:
    """The encrypted ballot of a file `verivote ballot encrypt` wrote (or of a file holding
    the ballot's wire form alone), its tracking code, and whether the file is a sealed ballot
    (which holds the opening, to be destroyed once the ballot is cast)."""
    try:
        doc = json.loads(read_private(path))
    except FileNotFoundError:
        raise UserError(f"no ballot file at {path}") from None
    except ValueError as exc:  # also a file others may read (read_private)
        raise UserError(f"{path}: not a ballot ({exc})") from None
    sealed = isinstance(doc, dict) and doc.get("format") == SEALED_FORMAT
    ballot = doc.get("ballot") if sealed else doc
    if not isinstance(ballot, dict) or ballot.get("type") != "ballot":
        raise UserError(f"{path}: not an encrypted ballot (nor a sealed one, {SEALED_FORMAT})")
    try:
        code = code_of(bytes.fromhex(str(ballot.get("election"))), ballot)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: not an encrypted ballot ({exc})") from None
    if sealed and doc.get("tracking_code") != code:
        raise UserError(f"{path}: the ballot is not the one whose tracking code was shown")
    return ballot, code, sealed


@device_app.command("cast")
def device_cast(
    ballot_file: Annotated[
        Path,
        typer.Argument(
            help="The encrypted ballot: a sealed ballot written by verivote ballot encrypt "
            "(its opening is destroyed once the ballot is cast or journaled), or a ballot's "
            "JSON alone."
        ),
    ],
    server: ServerUrl,
    token_file: TokenFile,
    journal: Journal = Path("verivote-journal.jsonl"),
    as_json: AsJson = False,
) -> None:
    """Cast a voter's encrypted ballot at this station; if the server cannot be reached,
    record it in the journal (verivote device upload sends it later)."""
    ballot, code, sealed = _read_ballot(ballot_file)
    try:
        answer = station.cast(_server(server, token_file), journal, ballot, code)
    except station.Refused as exc:
        raise UserError(f"the server refused the ballot: {exc}") from None
    if sealed:  # cast (or journaled): the opening of a cast ballot must not outlive it
        ballot_file.unlink()
    if as_json:
        typer.echo(json.dumps(answer))
        return
    status = answer["status"]
    if status == "recorded_offline":
        typer.echo(f"recorded offline ({answer['reason']}): tracking code {short(code)} ({code});"
                   " upload the journal when the server is back")  # fmt: skip
        return
    index = answer.get("board_index")
    where = "waiting in the station's batch" if index is None else f"board entry {index}"
    typer.echo(f"{status.replace('_', ' ')}: tracking code {short(code)} ({code}), {where}; "
               f"receipt: {server.rstrip('/')}/receipt/{code}")  # fmt: skip


@device_app.command("upload")
def device_upload(
    server: ServerUrl,
    token_file: TokenFile,
    journal: Journal = Path("verivote-journal.jsonl"),
    as_json: AsJson = False,
) -> None:
    """Upload the journal's offline check-ins, then its ballots; check-ins refused are kept
    for the supervisors, ballots the server already has count as uploaded."""
    try:
        report = station.upload(_server(server, token_file), journal)
    except station.ServerUnreachable as exc:
        raise UserError(f"the server cannot be reached ({exc}); nothing was lost") from None
    except station.Refused as exc:
        raise UserError(f"the server refused the upload: {exc}") from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(
        f"uploaded {report['uploaded']}: {report['accepted']} accepted, "
        f"{report['conflicts']} kept as conflicts for the supervisors, {report['errors']} errors"
    )
    for r in report["refused"]:
        typer.echo(f"  {r['request_id']}: {r['status']}")
    b = report["ballots"]
    if b["uploaded"]:
        typer.echo(f"ballots uploaded {b['uploaded']}: {b['accepted']} accepted, "
                   f"{b['already_accepted']} already accepted, {b['refused']} refused")  # fmt: skip
    for r in report["refused_ballots"]:
        typer.echo(f"  ballot {short(r['tracking_code'])}: refused ({r['detail']})")
    if report["refused_ballots"]:
        raise typer.Exit(3)


@device_app.command("run")
def device_run(
    queue: Annotated[
        Path,
        typer.Argument(
            help="The device's queue of voters (JSON, 0600), as the authority wrote it: the "
            "election, and each voter's national code, station, choices, whether they "
            "challenge and whether they come back."
        ),
    ],
    server: ServerUrl,
    folder: Annotated[
        Path,
        typer.Option(
            "--folder",
            help="The device's folder: tokens/<station> (0600) for each station it serves; "
            "its journals (journal-<station>.jsonl) are kept there.",
        ),
    ],
    offline_between: Annotated[
        tuple[int, int] | None,
        typer.Option(
            "--offline-between",
            help="A drill: for voters A to B of the queue (counting from 1) act as if the "
            "server could not be reached, journaling their check-ins and ballots; the journals "
            "are uploaded as soon as the drill is over.",
        ),
    ] = None,
    every: Annotated[
        int, typer.Option(min=1, help="Print a progress line every this many voters.")
    ] = 25,
    name: Annotated[
        str | None,
        typer.Option(help="The device's name in its summary (default: the folder's name)."),
    ] = None,
    print_station: Annotated[
        str | None,
        typer.Option(
            "--print-station",
            help="Print the paper ballot of every voter of this station as it is cast, into "
            "FOLDER/paper-<station>.pdf (a page a ballot, with its tracking code).",
        ),
    ] = None,
) -> None:
    """A whole polling day from a queue of voters (the devices of verivote demo): check each
    voter in, encrypt the ballot here, challenge it if the voter does, cast it; at the end
    print one JSON line, the day's summary."""
    try:
        offline = device_day.parse_offline(offline_between)
        summary = device_day.run_day(
            device_day.read_queue(queue), server, folder, offline, every,
            say=lambda line: typer.echo(line), device=name, print_station=print_station,
        )  # fmt: skip
    except (ValueError, device_day.DeviceError) as exc:
        raise UserError(str(exc)) from None
    except station.ServerUnreachable as exc:
        raise UserError(f"the server cannot be reached ({exc})") from None
    typer.echo(device_day.summary_line(summary))


@device_app.command("pending")
def device_pending(
    journal: Journal = Path("verivote-journal.jsonl"), as_json: AsJson = False
) -> None:
    """How many offline check-ins and ballots the journal holds that are not uploaded yet
    (their total; with --json, each)."""
    try:
        todo = station.pending(journal)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    ballots = sum(station.is_ballot(r) for r in todo)
    if as_json:
        typer.echo(json.dumps({"checkins": len(todo) - ballots, "ballots": ballots}))
        return
    typer.echo(str(len(todo)))


@supervisors_app.command("issue-token")
def supervisors_issue_token(
    name: Annotated[str, typer.Argument(help="Who the token is for.")],
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Issue a token for a supervisor (to read conflicts over the API). Shown once."""
    store = _store(db)
    ctx = _context(store, election)
    typer.echo(issue_supervisor_token(store.engine, ctx.election_id, name))
    Console(stderr=True).print(f"supervisor token for {name} (shown once)")


@supervisors_app.command("conflicts")
def supervisors_conflicts(
    election: ElectionId = None, db: Db = None, as_json: AsJson = False
) -> None:
    """Uploaded offline check-ins the server refused: who, where, when, and the first record."""
    store = _store(db)
    ctx = _context(store, election)
    found = conflicts(store.engine, ctx.election_id)
    if as_json:
        typer.echo(json.dumps(found))
        return
    if not found:
        typer.echo("no conflicts")
        return
    table = Table("kind", "national code", "station", "hour", "first station", "first hour")
    for c in found:
        table.add_row(
            c["kind"], c["national_code"], c["station_id"], str(c["hour"]),
            c["first_station_id"] or "", "" if c["first_hour"] is None else str(c["first_hour"]),
        )  # fmt: skip
    Console().print(table)
