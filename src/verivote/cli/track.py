"""`verivote track CODE --record DIR|URL`: a voter finds their ballot in a published record and
checks its inclusion proofs from the record's static files alone (`board.static_track`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from verivote.board.static_track import TrackError, dir_fetch, http_fetch, track
from verivote.cli.errors import UserError


def track_command(
    code: Annotated[
        str, typer.Argument(help="Tracking code (or challenged-ballot id), 64 hex digits.")
    ],
    record: Annotated[
        str,
        typer.Option("--record", help="The published record: a folder, or its http(s):// address."),
    ],
    authority_key: Annotated[
        str | None,
        typer.Option(
            "--authority-key",
            help="The authority's verifier key, as published before the election (default: "
            "the first line of the record's log/keys, which the record itself states).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the proof as JSON.")] = False,
) -> None:
    """Find a ballot by its tracking code in a published record and check that it is in the
    authority's signed national checkpoint: in its district's log under a sealed district
    checkpoint, and that seal in the national log. Reads only static files."""
    fetch = (
        http_fetch(record) if record.startswith(("http://", "https://")) else (dir_fetch(record))
    )
    try:
        key = authority_key or fetch("log/keys", None, None).decode("utf-8").split("\n")[0]
        found = track(fetch, code, key)
    except (TrackError, UnicodeDecodeError) as exc:
        raise UserError(f"ballot not proved: {exc}") from None
    if as_json:
        doc: dict[str, object] = {"code": found.code, "state": found.state, "log": found.log,
                                  "index": found.index, "checks": True}  # fmt: skip
        if found.proof is not None:
            doc["proof"] = found.proof.to_json()
        typer.echo(json.dumps(doc, ensure_ascii=False))
        return
    where = (
        f"entry {found.index} of {found.log}'s log, sealed at national entry "
        f"{found.proof.seal_index}"
        if found.proof is not None
        else f"entry {found.index}"
    )
    source = "given key" if authority_key else "key in the record's log/keys"
    Console().print(
        f"ballot {found.code[:16]}…: {found.state}, {where}, in the national checkpoint of "
        f"{found.national_size:,} entries signed by the authority ({source}): "
        "[bold green]the proofs check[/]"
    )
