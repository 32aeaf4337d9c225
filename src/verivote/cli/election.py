"""`verivote election …` and `verivote board …`: the election's steps on its
database (VERIVOTE_DATABASE_URL or --db; SQLite in the working folder by default)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from verivote.cli.errors import UserError
from verivote.crypto.keyfile import write_private
from verivote.election.guardians import open_ceremony
from verivote.election.mixers import issue_mixer_tokens
from verivote.election.publishing import (
    add_witness,
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
    init_election,
    load_context,
)
from verivote.model.manifest import ManifestError, load_manifest
from verivote.store import Store, StoreError, database_url, make_engine, migrate

election_app = typer.Typer(
    help="Create an election, hold its key ceremony and issue its mixers' tokens.",
    no_args_is_help=True,
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
    """Create the election from MANIFEST: publish it on the board, make the authority's
    signing key (printed: each faction's witness pins it, then `board add-witness`)."""
    try:
        m = load_manifest(manifest)
    except ManifestError as exc:
        raise UserError(str(exc)) from None
    store = _store(db)
    try:
        authority = create_signers(keys_dir, m)[0]
        base_hash = init_election(store, m)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    Console().print(
        f"election [bold]{m.election_id}[/] created: {len(m.districts)} districts, "
        f"{len(m.stations)} stations; base hash {base_hash.hex()}; keys in {keys_dir}/"
    )
    typer.echo(f"authority key {authority}")
    Console(stderr=True).print(
        "register each faction's witness: verivote witness init --log-key <authority key>, "
        "then verivote board add-witness --url URL --key KEY"
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


@election_app.command("mixers")
def election_mixers(
    mixer: Annotated[
        list[str] | None,
        typer.Option(
            "--mixer",
            help="A mixer (faction id) to issue a token to; repeat it (default: every mixer "
            "of the manifest).",
        ),
    ] = None,
    tokens_dir: Annotated[
        Path | None,
        typer.Option(
            "--tokens-dir",
            help="Write each mixer's token to DIR/mixer-<faction>.token (mode 0600) instead "
            "of printing them.",
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Issue a new token to a mixer that already holds one (its old token stops "
            "working).",
        ),
    ] = False,
    election: ElectionId = None,
    db: Db = None,
) -> None:
    """Issue each faction's mix server its token (shown once; only hashes are kept). Each
    mixer then runs `verivote mixer init` and, after the tally, `verivote mixer mix` against
    `verivote serve`; the server appends a shuffle only once its proof checks."""
    store = _store(db)
    ctx = _context(store, election)
    try:
        tokens = issue_mixer_tokens(store, ctx, mixer or None, replace)
    except (ElectionError, StoreError) as exc:
        raise UserError(str(exc)) from None
    console = Console()
    if tokens_dir is not None:
        tokens_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, token in tokens.items():
            write_private(tokens_dir / f"mixer-{name}.token", token + "\n", overwrite=replace)
        where = f"tokens in {tokens_dir}/mixer-<faction>.token (mode 0600)"
    else:
        for name, token in tokens.items():
            console.print(f"mixer {name}: {token}", highlight=False)
        where = "tokens above (shown once; only their hashes are kept)"
    console.print(
        f"{len(tokens)} mixer token(s) issued: {', '.join(tokens)}; {where}. Each mixer runs "
        "`verivote mixer init --server URL --token-file F --dir D --mixer FACTION`.",
        highlight=False,
    )


@board_app.command("checkpoint")
def board_checkpoint(
    election: ElectionId = None, db: Db = None, keys_dir: KeysDir = DEFAULT_KEYS
) -> None:
    """Sign the board's current root and ask every registered witness to cosign it (each
    does only if the board only grew since the last checkpoint it cosigned)."""
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
    if result.kept:
        console.print(f"kept the earlier cosignature of: {', '.join(result.kept)}")
    if not result.witnesses and not result.refusals:
        console.print("no witness registered: see `verivote board add-witness`")
    for refusal in result.refusals:
        console.print(f"[red]witness refused[/]: {refusal}")
    if result.refusals:
        raise typer.Exit(1)


@board_app.command("add-witness")
def board_add_witness(
    url: Annotated[
        str,
        typer.Option(
            help="The witness's URL: http(s)://host:port of `verivote witness serve`, or "
            "file:///path of a witness folder asked in-process (tests, simulations)."
        ),
    ],
    key: Annotated[str, typer.Option(help="The witness's verifier key (`witness init`).")],
    keys_dir: KeysDir = DEFAULT_KEYS,
) -> None:
    """Register a faction's witness: every checkpoint from now on asks it to cosign."""
    try:
        added = add_witness(keys_dir, url, key)
    except ElectionError as exc:
        raise UserError(str(exc)) from None
    Console().print(f"witness {added.name} registered at {added.url}")


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
    """Prove that the ballot with CODE is in the latest signed checkpoint: in its district's
    log under the district checkpoint sealed into the national log, and that seal in the
    national checkpoint."""
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
        where = (
            f"entry {doc['index']} of {doc['district']}'s log"
            if "seal" in doc
            else (f"entry {doc['index']}")
        )
        Console(stderr=True).print(
            f"inclusion proof of {where} in tree {doc['size']} written to {output}"
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
    """Write the public election record (log/entries.jsonl, log/checkpoint, log/keys, each
    district's log under districts/<D>/, and the trees as static tiles under tile/)."""
    store = _store(db)
    ctx = _context(store, election)
    try:
        size = export_record(store, ctx, keys_dir, directory)
    except (ElectionError, ValueError) as exc:
        raise UserError(str(exc)) from None
    Console().print(f"record of {size} entries written to {directory}/log/ and checked")
