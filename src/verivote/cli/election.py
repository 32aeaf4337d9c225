"""`verivote election …`, `verivote cast` and `verivote board …`: the election's steps on its
database (VERIVOTE_DATABASE_URL or --db; SQLite in the working folder by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from verivote.cli.errors import UserError
from verivote.crypto.ballot import BallotError, encrypt_ballot
from verivote.crypto.keyfile import write_private
from verivote.crypto.tracking import short
from verivote.election.guardians import open_ceremony
from verivote.election.publishing import (
    check_inclusion,
    create_signers,
    export_record,
    make_checkpoint,
    prove_inclusion,
    verifier_keys,
)
from verivote.election.service import (
    ElectionContext,
    ElectionError,
    cast,
    challenge,
    init_election,
    load_context,
)
from verivote.model.manifest import ManifestError, load_manifest
from verivote.store import Store, StoreError, database_url, make_engine, migrate

election_app = typer.Typer(
    help="Create an election and hold its key ceremony.", no_args_is_help=True
)
board_app = typer.Typer(help="Sign, prove and export the bulletin board.", no_args_is_help=True)

Db = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: VERIVOTE_DATABASE_URL or sqlite:///verivote.db)."
    ),
]
KeysDir = Annotated[
    Path, typer.Option("--keys-dir", help="Folder of the election's secret keys (mode 0600 files).")
]
ElectionId = Annotated[
    str | None,
    typer.Option("--election", help="Election id (default: the only election in the database)."),
]
DEFAULT_KEYS = Path("verivote-keys")


def _store(db: str | None) -> Store:
    try:
        engine = make_engine(db or database_url())
        migrate(engine)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    except Exception as exc:  # a database that cannot be reached: one line, not a traceback
        raise UserError(f"cannot open the database: {exc.__class__.__name__}: {exc}") from None
    return Store(engine)


def _context(store: Store, election: str | None) -> ElectionContext:
    try:
        if election is None:
            ids = store.election_ids()
            if len(ids) != 1:
                raise UserError(
                    "give --election: the database holds "
                    + (f"{len(ids)} elections ({', '.join(ids)})" if ids else "no election yet")
                )
            election = ids[0]
        return load_context(store, election)
    except (ElectionError, ManifestError) as exc:
        raise UserError(str(exc)) from None


@election_app.command("init")
def election_init(
    manifest: Annotated[Path, typer.Argument(help="Manifest file (.json, .yaml or .yml).")],
    db: Db = None,
    keys_dir: KeysDir = DEFAULT_KEYS,
) -> None:
    """Create the election from MANIFEST: publish it on the board, make the signing keys."""
    try:
        m = load_manifest(manifest)
    except ManifestError as exc:
        raise UserError(str(exc)) from None
    store = _store(db)
    try:
        create_signers(keys_dir, m)
        base_hash = init_election(store, m)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    Console().print(
        f"election [bold]{m.election_id}[/] created: {len(m.districts)} districts, "
        f"{len(m.stations)} stations; base hash {base_hash.hex()}; keys in {keys_dir}/"
    )


@election_app.command("ceremony")
def election_ceremony(
    guardians: Annotated[
        int | None, typer.Option(help="Guardians (default: one per faction).")
    ] = None,
    quorum: Annotated[
        int | None, typer.Option(help="Guardians needed to decrypt (default: a majority).")
    ] = None,
    tokens_dir: Annotated[
        Path | None,
        typer.Option(
            "--tokens-dir",
            help="Write each guardian's token to DIR/guardian-<i>.token (mode 0600) instead "
            "of printing them.",
        ),
    ] = None,
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Open the key ceremony: N guardians, quorum K, one token per guardian (shown once).
    Each guardian then runs `verivote guardian ceremony` on its own machine against
    `verivote serve`; the server publishes the transcript when every round is complete."""
    store = _store(db)
    ctx = _context(store, election)
    n = guardians or max(1, len(ctx.manifest.factions))
    k = quorum or n // 2 + 1
    try:
        tokens = open_ceremony(store, ctx, n, k)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    console = Console()
    if tokens_dir is not None:
        tokens_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for i, token in enumerate(tokens, start=1):
            write_private(tokens_dir / f"guardian-{i}.token", token + "\n")
        where = f"tokens in {tokens_dir}/guardian-<i>.token (mode 0600)"
    else:
        for i, token in enumerate(tokens, start=1):
            console.print(f"guardian {i}: {token}", highlight=False)
        where = "tokens above (shown once; only their hashes are kept)"
    console.print(
        f"key ceremony opened: {n} guardians, quorum {k}; {where}. Each guardian runs "
        "`verivote guardian ceremony --server URL --token-file F --dir D --index I`."
    )


def cast_command(
    station: Annotated[str, typer.Option(help="The polling station.")],
    choose: Annotated[
        list[str] | None,
        typer.Option("--choose", help="A candidate code (repeat, up to the seats)."),
    ] = None,
    challenge_ballot: Annotated[
        bool, typer.Option("--challenge", help="Challenge the ballot instead of casting it.")
    ] = False,
    election: ElectionId = None,
    db: Db = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the receipt as JSON.")] = False,
) -> None:
    """Encrypt a ballot as a voting device does, then cast it (or challenge it)."""
    store = _store(db)
    ctx = _context(store, election)
    if ctx.key is None:
        raise UserError("the key ceremony has not been held yet (run verivote election ceremony)")
    try:
        ballot, opened = encrypt_ballot(ctx.manifest, ctx.key, ctx.base_hash, station, choose or [])
        receipt = (
            challenge(store, ctx, ballot, opened) if challenge_ballot else cast(store, ctx, ballot)
        )
    except (BallotError, ElectionError, StoreError) as exc:
        raise UserError(f"ballot refused: {exc}") from None
    if as_json:
        typer.echo(
            json.dumps({"state": receipt.state, "code": receipt.code, "index": receipt.board_index})
        )
        return
    Console().print(
        f"ballot {receipt.state} at {station}: code [bold]{short(receipt.code)}[/] "
        f"({receipt.code}), board entry {receipt.board_index}"
    )


@board_app.command("checkpoint")
def board_checkpoint(
    election: ElectionId = None, db: Db = None, keys_dir: KeysDir = DEFAULT_KEYS
) -> None:
    """Sign the board's current root; every faction's witness cosigns it if it only grew."""
    store = _store(db)
    ctx = _context(store, election)
    try:
        result = make_checkpoint(store, ctx, keys_dir)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    typer.echo(result.note, nl=False)
    console = Console(stderr=True)
    console.print(
        f"checkpoint of {result.size} entries, cosigned by {len(result.witnesses)} witness(es)"
    )
    for refusal in result.refusals:
        console.print(f"[red]witness refused[/]: {refusal}")
    if result.refusals:
        raise typer.Exit(1)


@board_app.command("prove-inclusion")
def board_prove_inclusion(
    code: Annotated[
        str, typer.Argument(help="Tracking code (or challenged-ballot id), 64 hex digits.")
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the proof to a file.")
    ] = None,
    election: ElectionId = None,
    db: Db = None,
    keys_dir: KeysDir = DEFAULT_KEYS,
) -> None:
    """Prove that the ballot with CODE is in the latest signed checkpoint."""
    store = _store(db)
    ctx = _context(store, election)
    try:
        doc = prove_inclusion(store, ctx, keys_dir, code.strip().lower())
    except ElectionError as exc:
        raise UserError(str(exc)) from None
    assert check_inclusion(doc, verifier_keys(keys_dir))
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        Console(stderr=True).print(
            f"inclusion proof of entry {doc['index']} in tree {doc['size']} written to {output}"
        )
    else:
        typer.echo(text)


@board_app.command("export")
def board_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the public record into.")],
    election: ElectionId = None,
    db: Db = None,
    keys_dir: KeysDir = DEFAULT_KEYS,
) -> None:
    """Write the public election record (log/entries.jsonl, log/checkpoint, log/keys)."""
    store = _store(db)
    ctx = _context(store, election)
    try:
        size = export_record(store, ctx, keys_dir, directory)
    except (ElectionError, ValueError) as exc:
        raise UserError(str(exc)) from None
    Console().print(f"record of {size} entries written to {directory}/log/ and checked")
