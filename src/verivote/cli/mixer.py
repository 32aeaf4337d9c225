"""`verivote mixer init|mix`: one faction's mix server as its own program (issue 16, item 2;
`verivote.parties.mixer`). It keeps its token and pinned keys in its own folder and talks to
the authority's server over HTTP only. Every refusal is one line on stderr, exit 1, and a line
in the folder's mixer.log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from verivote.cli.cluster import RayOption, check_ray_option, cluster_for
from verivote.cli.errors import UserError
from verivote.cli.guardian import party_failure, trust_keys
from verivote.parties.guardian import Client, read_token
from verivote.parties.mixer import (
    LOG_FILE,
    TOKEN_FILE,
    MixerRefusal,
    ServerError,
    folder_token,
    init,
    log,
    mix,
    read_state,
)

mixer_app = typer.Typer(
    help="Run one faction's mix server: check the signed board's cast ballots and every "
    "earlier shuffle, then shuffle the written ballots with a proof and post it.",
    no_args_is_help=True,
)

Folder = Annotated[
    Path, typer.Option("--dir", help="This mixer's own folder: token, pinned keys, log.")
]


def _fail(folder: Path, exc: MixerRefusal | ServerError) -> UserError:
    """The one line to print; logged in the mixer's folder unless it already is."""
    return party_failure(folder, exc, log)


@mixer_app.command("init")
def mixer_init(
    server: Annotated[
        str, typer.Option("--server", help="The authority's server, http://host:port.")
    ],
    token_file: Annotated[
        Path,
        typer.Option(
            "--token-file",
            help="This mixer's token (mode 0600, from `verivote election mixers`); kept in "
            f"DIR/{TOKEN_FILE}.",
        ),
    ],
    folder: Folder,
    mixer: Annotated[str, typer.Option("--mixer", help="This mixer's faction id.")],
    trust: Annotated[
        Path | None,
        typer.Option(
            "--trust",
            help="Verifier keys to pin (the authority's first, then the witnesses'), one a "
            "line. Without it the keys the server publishes now are pinned in DIR/trust (trust "
            "on first use): every mix later checks checkpoints against these pinned keys only.",
        ),
    ] = None,
) -> None:
    """Make DIR mixer FACTION's folder for the server's election: the server must know the
    token as this mixer's and the board's manifest must name it a mixer."""
    keys = trust_keys(trust)
    try:
        client = Client(server, read_token(token_file))
        state = init(client, folder, mixer, client.token or "", keys)
    except (MixerRefusal, ServerError) as exc:
        raise _fail(folder, exc) from None
    Console().print(
        f"mixer {state['mixer']} of election {state['election']} ready in {folder}/ (token "
        f"0600, keys pinned in {folder / 'trust'}, log {folder / LOG_FILE})",
        highlight=False,
    )


@mixer_app.command("mix")
def mixer_mix(
    folder: Folder,
    server: Annotated[
        str | None,
        typer.Option("--server", help="The authority's server (default: the one of init)."),
    ] = None,
    witness_quorum: Annotated[
        int | None,
        typer.Option(
            "--witness-quorum",
            min=1,
            help="Witness cosignatures the checkpoint needs (default: a majority of the "
            "witnesses pinned in DIR/trust).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ray: RayOption = None,
) -> None:
    """Check the latest signed, witnessed board (every cast ballot of each mixnet district
    against its mix-input, every earlier shuffle proof), then shuffle each district this
    mixer has not mixed yet, prove it and post it. With --ray, the ballots' proof checks,
    the shuffle checks, the shuffle and its proof run as Ray tasks on that cluster, which
    must be the mixer's own machines (its permutation and nonces go to them)."""
    check_ray_option(ray, None)
    try:
        state = read_state(folder)
        client = Client(server or str(state["server"]), folder_token(folder))
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
            disable=as_json,
        ) as bar:
            tasks: dict[str, int] = {}

            def progress(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = int(bar.add_task(step, total=total))
                bar.update(tasks[step], completed=done, total=total)  # type: ignore[arg-type]

            with cluster_for(ray) as cluster:
                posted = mix(client, folder, witness_quorum, progress, cluster=cluster)
    except (MixerRefusal, ServerError) as exc:
        raise _fail(folder, exc) from None
    if as_json:
        typer.echo(json.dumps({"mixer": state["mixer"], "posted": dict(posted)}))
        return
    if not posted:
        Console().print(
            f"mixer {state['mixer']}: nothing left to mix (every district with ballots is mixed)",
            highlight=False,
        )
        return
    Console().print(
        f"mixer {state['mixer']}: "
        + ", ".join(f"{d} shuffled (board entry {i})" for d, i in posted),
        highlight=False,
    )
