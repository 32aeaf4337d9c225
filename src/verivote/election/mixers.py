"""The authority's side of the factions' mix servers (issue 16, item 2; DESIGN.md, "Parties
and trust"): it issues each mixer its bearer token and tells, for a request, which mixer a
token is. What a mixer may post is checked by `verivote.election.mixing.accept_shuffle`; a
mixer runs its own program (`verivote.parties.mixer`) with its own folder.
"""

from __future__ import annotations

from collections.abc import Sequence

from verivote.election.guardians import Refused
from verivote.election.service import ElectionContext, ElectionError
from verivote.model.manifest import Manifest
from verivote.store import Store, StoreError
from verivote.store import mixers as db


def manifest_mixers(manifest: Manifest) -> list[str]:
    """The manifest's mixers, in mixing order (`Manifest.mixers()`: the `mixing.mixers` it
    names, else every faction in manifest order)."""
    return manifest.mixers()


def issue_mixer_tokens(
    store: Store, ctx: ElectionContext, mixers: Sequence[str] | None = None, replace: bool = False
) -> dict[str, str]:
    """One bearer token per mixer (default: every mixer of the manifest), shown once: only
    their hashes are kept. `replace`: a mixer that already holds one gets a new one and the
    old one stops working (a lost token); without it, that is refused."""
    known = manifest_mixers(ctx.manifest)
    if not known:
        raise ElectionError(
            f"election {ctx.election_id} has no mixers (its manifest names no faction)"
        )
    wanted = list(known if mixers is None else mixers)
    strangers = [m for m in wanted if m not in known]
    if strangers:
        raise ElectionError(
            f"{', '.join(strangers)} is not a mixer of election {ctx.election_id} "
            f"(its mixers: {', '.join(known)})"
        )
    try:
        return db.issue_mixer_tokens(store.engine, ctx.election_id, wanted, replace)
    except (StoreError, ValueError) as exc:
        raise ElectionError(str(exc)) from None


def mixer_of(store: Store, ctx: ElectionContext, token: str | None) -> str:
    """The mixer that `token` (an `Authorization: Bearer` value) belongs to; Refused (401 or
    403) for a missing or unknown token, one of another election, or of a faction that is
    no longer a mixer of this election."""
    if not token:
        raise Refused(401, "a mixer's token is required (Authorization: Bearer <token>)")
    found = db.mixer_of_token(store.engine, token)
    if found is None:
        raise Refused(401, "unknown mixer token")
    election, mixer = found
    if election != ctx.election_id:
        raise Refused(403, f"this token is a mixer's of election {election}")
    if mixer not in manifest_mixers(ctx.manifest):
        raise Refused(403, f"{mixer} is not a mixer of election {ctx.election_id}")
    return mixer
