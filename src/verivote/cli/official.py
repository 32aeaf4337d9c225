"""`verivote official …`: a polling station's head or a faction's observer (issue 18).

    verivote official keys --dir D (--station S … | --faction F)   make the keys, print them
    verivote official sign --dir D --forms F.json --own O.json     sign forms equal to one's own

The folder (`verivote.parties.official`) holds the official's signing keys (mode 0600); the
authority publishes only the printed verifier keys (`form-signers`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from verivote.cli.errors import UserError
from verivote.model.result_form import FormError, Mismatch, head_name, observer_name
from verivote.parties import official as party

official_app = typer.Typer(
    help="A station head or a faction's observer: keys, and signing result forms that match "
    "one's own count.",
    no_args_is_help=True,
)

Dir = Annotated[Path, typer.Option("--dir", help="The official's own folder (signing keys).")]


@official_app.command("keys")
def official_keys(
    directory: Dir,
    stations: Annotated[
        list[str] | None, typer.Option("--station", help="A station this official heads.")
    ] = None,
    faction: Annotated[
        str | None, typer.Option("--faction", help="The faction this official observes for.")
    ] = None,
) -> None:
    """Make the official's signing keys; prints {key name: verifier key} as JSON (give it to
    the authority, which publishes it before the polls open)."""
    if bool(stations) == (faction is not None):
        raise UserError("give either --station (a station head) or --faction (an observer)")
    names = [head_name(s) for s in stations or []] or [observer_name(str(faction))]
    try:
        verifiers = party.OfficialKeys(directory).create(names)
    except (FormError, ValueError) as exc:
        raise UserError(str(exc)) from None
    typer.echo(json.dumps(verifiers, sort_keys=True))


@official_app.command("sign")
def official_sign(
    directory: Dir,
    forms: Annotated[Path, typer.Option("--forms", help="The forms to sign (a JSON list).")],
    own: Annotated[
        Path,
        typer.Option(
            "--own",
            help="The official's own copy of each form: the head's second entry, the "
            "observer's count at the table (a JSON list).",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write {station: [signature lines]}.")
    ],
) -> None:
    """Sign every form this official signs, each only if it equals the official's own copy;
    a difference is shown field by field and nothing is signed."""
    try:
        keys = party.OfficialKeys(directory).load()
        signed = party.sign_forms(keys, party.read_forms(forms), party.read_forms(own))
    except Mismatch as exc:
        raise UserError(f"not signed: {exc}") from None
    except (FormError, ValueError) as exc:
        raise UserError(str(exc)) from None
    out.write_text(json.dumps(signed, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"signed {len(signed)} forms", err=True)
