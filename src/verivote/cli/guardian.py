"""`verivote guardian ceremony|decrypt`: one guardian of the election key as its own program
(issue 14, items 1 and 2; `verivote.parties.guardian`). It keeps its secrets in its own folder
and talks to the authority's server over HTTP only. Every refusal is one line on stderr, exit
1, and a line in the folder's guardian.log."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import rich.progress
import typer
from rich.console import Console

from verivote.cli.cluster import RayOption, check_ray_option, cluster_for
from verivote.cli.errors import UserError
from verivote.parties.guardian import (
    TRUST_FILE,
    CeremonyRun,
    Client,
    GuardianRefusal,
    ServerError,
    Waiting,
    contribute,
    decrypt,
    log,
    read_token,
)
from verivote.parties.pseudonyms import answer_batches

guardian_app = typer.Typer(
    help="Run one guardian of the election key: its side of the key ceremony, its "
    "contribution to the lot, then its partial decryption of a tally it has checked itself.",
    no_args_is_help=True,
)

Server = Annotated[str, typer.Option("--server", help="The authority's server, http://host:port.")]
TokenFile = Annotated[
    Path,
    typer.Option("--token-file", help="This guardian's token (mode 0600, from the authority)."),
]
Folder = Annotated[
    Path, typer.Option("--dir", help="This guardian's own folder: secrets, key share, log.")
]


def party_failure(
    folder: Path, exc: GuardianRefusal | ServerError, log_line: Callable[[Path, str], None]
) -> UserError:
    """The one line a party's command prints; written to the party's log by `log_line`
    unless it already is."""
    if isinstance(exc, ServerError):
        log_line(folder, f"error: {exc}")
    elif not exc.logged:
        log_line(folder, f"refused: {exc}")
    return UserError(str(exc))


def _fail(folder: Path, exc: GuardianRefusal | ServerError) -> UserError:
    """The one line to print; logged in the guardian's folder unless it already is."""
    return party_failure(folder, exc, log)


def trust_keys(trust: Path | None) -> list[str] | None:
    """The verifier keys in a --trust file, one a line."""
    if trust is None:
        return None
    lines = trust.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


@guardian_app.command("ceremony")
def guardian_ceremony(
    server: Server,
    token_file: TokenFile,
    folder: Folder,
    index: Annotated[int, typer.Option("--index", min=1, help="This guardian's number.")],
    trust: Annotated[
        Path | None,
        typer.Option(
            "--trust",
            help="Verifier keys to pin (the authority's first, then the witnesses'), one a "
            "line. Without it the keys the server publishes now are pinned in DIR/trust (trust "
            "on first use): decryption later checks checkpoints against these pinned keys only.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the other guardians.")
    ] = 3600,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between polls.")] = 1.0,
    no_lot: Annotated[
        bool,
        typer.Option("--no-lot", help="Do not contribute to the lot now (guardian contribute)."),
    ] = False,
) -> None:
    """Take part in the key ceremony as guardian INDEX; write DIR/guardian.key (mode 0600),
    then, if the election's turnout is provable, the pseudonym key's own ceremony
    (DIR/pseudonym.key), then contribute to the election's lot."""
    keys = trust_keys(trust)
    err = Console(stderr=True)
    try:
        client = Client(server, read_token(token_file))
        run = CeremonyRun(
            client,
            folder,
            index,
            keys,
            Waiting(poll=poll, timeout=timeout, progress=lambda line: err.print(line)),
        )
        share, transcript = run.run()
        if run.state.get("pseudonym_key"):
            # The pseudonyms' key of its own (issue 19): the same rounds again, its own files.
            CeremonyRun(client, folder, index, keys, run.waiting, key="pseudonym").run()
        # With its key share, the guardian contributes to the election's lot (issue 14,
        # item 4): the tally waits for a quorum of contributions.
        lot_index = None if no_lot else contribute(client, folder, done_is_fine=True)
    except (GuardianRefusal, ServerError) as exc:
        raise _fail(folder, exc) from None
    lot = "" if lot_index is None else f"; lot contribution at board entry {lot_index}"
    Console().print(
        f"guardian {share.guardian}: key ceremony done, qualified {transcript.qualified}, "
        f"joint key {transcript.joint_key[:16]}…; key share in {folder / 'guardian.key'}, "
        f"keys pinned in {folder / TRUST_FILE}{lot}"
    )


@guardian_app.command("contribute")
def guardian_contribute(server: Server, token_file: TokenFile, folder: Folder) -> None:
    """Contribute to the lot of the server's election (once per election; `guardian ceremony`
    does it for the ceremony's election, this is for a runoff that reuses the key).

    The contribution is an encryption of a random element under the joint key, with proofs of
    its randomness and of this guardian's key share: no one, the guardian included, knows the
    lot until a quorum decrypts it with the tally."""
    try:
        client = Client(server, read_token(token_file))
        index = contribute(client, folder)
    except (GuardianRefusal, ServerError) as exc:
        raise _fail(folder, exc) from None
    Console().print(f"lot contribution acknowledged as board entry {index}")


@guardian_app.command("pseudonyms")
def guardian_pseudonyms(server: Server, token_file: TokenFile, folder: Folder) -> None:
    """Answer the roll's blinded batches with this guardian's share of the pseudonym key
    (issue 19), each with a batch proof; never more evaluations than the board's roll-size.

    The guardian never sees a national code; its ledger DIR/pseudonyms.json records every
    batch it answered, so that no crash or repeated request makes it answer more."""
    err = Console(stderr=True)
    try:
        client = Client(server, read_token(token_file))
        with rich.progress.Progress(console=err, transient=True) as bar:
            task = bar.add_task("answering the roll's batches", total=None)
            answered = answer_batches(
                client, folder, lambda done, total: bar.update(task, completed=done, total=total)
            )
    except (GuardianRefusal, ServerError) as exc:
        raise _fail(folder, exc) from None
    Console().print(f"{answered} batches of pseudonyms answered")


@guardian_app.command("decrypt")
def guardian_decrypt(
    server: Server,
    token_file: TokenFile,
    folder: Folder,
    witness_quorum: Annotated[
        int | None,
        typer.Option(
            "--witness-quorum",
            min=1,
            help="Witness cosignatures the checkpoint needs (default: a majority of the "
            "witnesses pinned in DIR/trust).",
        ),
    ] = None,
    trust: Annotated[
        Path | None,
        typer.Option(
            "--trust",
            help="For an election other than the ceremony's that uses this key (a runoff): its "
            "verifier keys (authority first, then witnesses), pinned in DIR/trust-<origin> the "
            "first time. The ceremony's election uses DIR/trust, pinned at the ceremony.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ray: RayOption = None,
) -> None:
    """Check the signed board and its tally; post partial decryptions of its own tally, and
    of the closed mix's last rows when the election has districts counted by mixnet.
    With --ray, the ballots' proof checks, the mix's shuffle checks and its partial
    decryptions run as Ray tasks on that cluster, which must be the guardian's own machines
    (its key share goes to them).

    The latest checkpoint must be signed by the pinned authority key and cosigned by enough
    pinned witnesses; the tally must be the product of exactly the cast ballots in it; each
    mixnet district's mix-input must be its cast written ballots, every shuffle proof must
    verify and the board's mix-closed entry must name the end of each chain."""
    check_ray_option(ray, None)
    try:
        client = Client(server, read_token(token_file))
        with cluster_for(ray) as cluster:
            published = decrypt(client, folder, witness_quorum, None, trust_keys(trust), cluster)
    except (GuardianRefusal, ServerError) as exc:
        raise _fail(folder, exc) from None
    if as_json:
        typer.echo(json.dumps({"published": published}))
        return
    Console().print(
        f"{len(published)} partial decryption entries published "
        f"(board entries {', '.join(map(str, published))})"
    )
