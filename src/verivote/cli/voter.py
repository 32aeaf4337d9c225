"""`verivote voter status`: a voter's own device checks their participation (issue 19, item 4).

The server's answer is checked here, never trusted:

- the pseudonym: the voter's own code blinded by the factor given is in the batch, every
  guardian's batch proof holds against its public share of the pseudonym key (from the
  `pseudonym-ceremony` transcript, whose entry is proved in the signed checkpoint), a quorum's
  answers combine, and unblinding gives the pseudonym shown (`polling.turnout.check_pseudonym`);
- the roll: the leaf (district, pseudonym) is in the committed roll (its path leads to the
  root of the `roll-commitment` entry, itself proved in the signed checkpoint);
- the check-in: if one is recorded in the voter's name, the `checkins` entry lists the
  pseudonym and is proved in its district's log and seal under the signed checkpoint.

Checkpoints are checked against `--trust FILE` (the authority's verifier key first) or else the
keys the server publishes. `--complain TEXT` files a complaint about the check-in shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from verivote.board.checkpoint import open_checkpoint
from verivote.cli.errors import UserError
from verivote.parties.guardian import Client, ServerError
from verivote.polling.turnout import StatusError
from verivote.web.voter_status import check_status

voter_app = typer.Typer(help="A voter's own checks.", no_args_is_help=True)


@voter_app.command("status")
def voter_status(
    national_code: Annotated[str, typer.Argument(help="Your national code (10 digits).")],
    status_code: Annotated[
        str, typer.Option("--status-code", help="The status code of your notification.")
    ],
    server: Annotated[str, typer.Option("--server", help="The authority's server URL.")],
    trust: Annotated[
        Path | None,
        typer.Option("--trust", help="Verifier keys, one a line (the authority's first)."),
    ] = None,
    complain: Annotated[
        str | None,
        typer.Option("--complain", help="File this complaint about the check-in shown."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Whether you are on the committed roll and whether a check-in was recorded in your
    name, and where: checked by this program against the signed board, not taken on the
    server's word. Nobody without your status code can ask."""
    client = Client(server)
    try:
        found = client.post_json(
            "/api/voter/status", {"national_code": national_code, "status_code": status_code}
        )
    except ServerError as exc:
        raise UserError(str(exc)) from None
    if found.get("pseudonym") is None:
        raise UserError("you are on the roll, but its pseudonyms are not committed yet")
    if trust is not None:
        keys = [x.strip() for x in trust.read_text(encoding="utf-8").splitlines() if x.strip()]
    else:
        keys = list(found.get("verifiers") or [])
    if not keys:
        raise UserError("no verifier keys to check the board with: give --trust FILE")
    try:
        open_checkpoint(found["commitment"]["checkpoint"], keys[:1])
        result = check_status(national_code, found, keys)
    except (StatusError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"the server's answer does not check: {exc}") from None
    if complain is not None:
        try:
            filed = client.post_json(
                "/api/voter/complaint",
                {"national_code": national_code, "status_code": status_code, "text": complain},
            )
        except ServerError as exc:
            raise UserError(str(exc)) from None
        result["complaint"] = filed.get("complaint")
    result["checked"] = True
    if as_json:
        typer.echo(json.dumps(result))
        return
    out = Console()
    out.print(
        f"On the committed roll of {result['district']}: yes (pseudonym "
        f"{result['pseudonym'][:16]}…), checked against the signed board."
    )
    where = result["checked_in"]
    if where is None:
        out.print("No check-in has been recorded in your name.")
    else:
        out.print(
            f"A check-in was recorded in your name at {where['station']}, hour "
            f"{where['hour']}. If you did not vote there, file a complaint with --complain."
        )
    if "complaint" in result:
        out.print(f"Complaint {result['complaint']} recorded for the supervisors.")
